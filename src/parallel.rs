//! Work spread over threads, for the stages that split theirs: reading TOML
//! in pieces, rendering flow modules.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Threads for a stage over `operations` operations: one below a few
/// thousand (starting threads costs more than they save), else one per core,
/// or `$OPFLOW_THREADS` when it is set to a number.
pub(crate) fn workers(operations: usize) -> usize {
    if operations < 2_000 { 1 } else { *THREADS }
}

static THREADS: std::sync::LazyLock<usize> = std::sync::LazyLock::new(|| {
    std::env::var("OPFLOW_THREADS")
        .ok()
        .and_then(|n| n.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        })
});

/// `a` and `b`, the second on a thread of its own when `parallel`.
pub(crate) fn join<A: Send, B: Send>(
    parallel: bool,
    a: impl FnOnce() -> A + Send,
    b: impl FnOnce() -> B + Send,
) -> (A, B) {
    if !parallel {
        return (a(), b());
    }
    std::thread::scope(|scope| {
        let b = scope.spawn(b);
        let a = a();
        (
            a,
            b.join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
        )
    })
}

/// `f` applied to every item by up to `workers` threads (the caller's among
/// them), each taking the next item no one has taken; the results in the
/// items' order. Put the largest items first: they start first.
pub(crate) fn map<T: Sync, R: Send>(
    items: &[T],
    workers: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let workers = workers.min(items.len());
    if workers < 2 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let results: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    let work = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else {
                return;
            };
            let result = f(item);
            if let Ok(mut slot) = results[i].lock() {
                *slot = Some(result);
            }
        }
    };
    std::thread::scope(|scope| {
        for _ in 1..workers {
            scope.spawn(work);
        }
        work();
    });
    // A panicking worker has already re-raised its panic in the scope.
    results
        .into_iter()
        .filter_map(|slot| slot.into_inner().ok().flatten())
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_come_in_the_items_order_whatever_the_workers() {
        let items: Vec<u64> = (0..100).collect();
        let square = |n: &u64| {
            // Uneven work, so threads finish out of order.
            std::thread::sleep(std::time::Duration::from_micros(n % 7 * 50));
            n * n
        };
        let expected: Vec<u64> = items.iter().map(square).collect();
        for workers in [0, 1, 2, 3, 8, 200] {
            assert_eq!(super::map(&items, workers, square), expected, "{workers}");
        }
        assert!(super::map(&[] as &[u64], 4, square).is_empty());
    }
}
