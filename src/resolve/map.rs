//! `map`: an operation run once per element of a list-valued source
//! (docs/DESIGN.md §4, "Mapped operations"). The element type of a source,
//! the list a mapped operation gives, and the checks of `map` entries.

use super::types::{self, TypeExpr};
use super::{Binding, Operation, Resolver, suggestion};
use crate::diagnostic::{Diagnostic, at};
use crate::manifest::raw::{RawOperation, RawParam};
use crate::manifest::{RawManifest, Span};

/// Collections a mapped parameter takes its elements from, by their normal
/// name (`List` is `list`): one type argument each.
const SEQUENCES: &[&str] = &[
    "list",
    "set",
    "frozenset",
    "Sequence",
    "MutableSequence",
    "AbstractSet",
    "MutableSet",
    "Collection",
    "Iterable",
    "collections.abc.Sequence",
    "collections.abc.MutableSequence",
    "collections.abc.Set",
    "collections.abc.MutableSet",
    "collections.abc.Collection",
    "collections.abc.Iterable",
    "collections.deque",
];

/// `list[ty]`: what a consumer of a mapped operation returning `ty` gets.
pub fn list_of(ty: TypeExpr) -> TypeExpr {
    TypeExpr::Name {
        name: "list".to_owned(),
        args: Some(vec![ty]),
    }
}

/// The type of one element of `ty`, when it is a sequence a map can walk:
/// `list[T]`, `Sequence[T]`, `set[T]`, `tuple[T, ...]` (and their aliases).
pub fn element_of(ty: &TypeExpr) -> Option<TypeExpr> {
    let TypeExpr::Name {
        name,
        args: Some(args),
    } = ty.normalized()
    else {
        return None;
    };
    match args.as_slice() {
        [element] if SEQUENCES.contains(&name.as_str()) => Some(element.clone()),
        [element, TypeExpr::Ellipsis] if name == "tuple" => Some(element.clone()),
        _ => None,
    }
}

/// The declared type string of parameter `param` of `op`, with its span.
pub(super) fn written_type<'r>(
    op: &'r RawOperation,
    param: &str,
) -> Option<&'r crate::manifest::Spanned<String>> {
    op.params
        .0
        .iter()
        .find(|(key, _)| key.value == param)
        .and_then(|(_, raw)| match raw {
            RawParam::Type(ty) => Some(ty),
            RawParam::Table(table) => table.ty.as_ref(),
        })
}

impl Resolver<'_> {
    /// Every `map` entry names a parameter of its operation, bound to an
    /// operation whose value is a sequence whose elements the parameter's
    /// type accepts; a mapped operation declares no named outputs.
    pub(super) fn check_maps(&mut self, raw: &RawManifest, operations: &[Operation]) {
        for (i, spanned) in raw.operations.iter().enumerate() {
            let op = &spanned.value;
            let Some(map) = &op.map else { continue };
            let Some(resolved) = operations.get(i) else {
                continue;
            };
            if let (Some(first), Some(outputs)) = (map.first(), &op.outputs) {
                let outputs_span = outputs.0.first().map_or(first.span, |(key, _)| key.span);
                self.error(Diagnostic::MapWithOutputs {
                    operation: op.name.value.clone(),
                    span: at(first.span),
                    outputs: at(outputs_span),
                });
            }
            let names: Vec<&str> = op.params.0.iter().map(|(key, _)| key.as_str()).collect();
            for (n, entry) in map.iter().enumerate() {
                if map[..n].iter().any(|e| e.value == entry.value) {
                    continue;
                }
                if !names.contains(&entry.as_str()) {
                    let help =
                        suggestion(&entry.value, &names, "name one of the operation's `params`");
                    self.error(Diagnostic::UnknownMapParam {
                        operation: op.name.value.clone(),
                        param: entry.value.clone(),
                        span: at(entry.span),
                        help,
                    });
                    continue;
                }
                // A parameter whose binding failed was reported already.
                let Some(param) = resolved.params.iter().find(|p| p.name == entry.value) else {
                    continue;
                };
                let (source, output) = match &param.binding {
                    Binding::FlowParam { .. } => {
                        self.error(Diagnostic::MapOverFlowParam {
                            operation: op.name.value.clone(),
                            param: entry.value.clone(),
                            span: at(entry.span),
                        });
                        continue;
                    }
                    Binding::Operation { op, output } => (*op, output.as_deref()),
                };
                self.check_map_source(
                    raw,
                    operations,
                    op,
                    entry.span,
                    &param.name,
                    param.ty.as_ref(),
                    source,
                    output,
                );
            }
        }
    }

    /// The source of mapped parameter `param` gives a sequence whose
    /// elements its type accepts (unknown types are not judged).
    #[allow(clippy::too_many_arguments)]
    fn check_map_source(
        &mut self,
        raw: &RawManifest,
        operations: &[Operation],
        op: &RawOperation,
        entry: Span,
        param: &str,
        ty: Option<&TypeExpr>,
        source: usize,
        output: Option<&str>,
    ) {
        let source_raw = &raw.operations[source].value;
        let (source_ty, source_span, source_name) = match output {
            None => (
                operations[source].produces(),
                source_raw.returns.as_ref().map(|r| r.span),
                operations[source].shown().into_owned(),
            ),
            Some(output) => (
                operations[source]
                    .outputs
                    .iter()
                    .find(|(name, _)| name == output)
                    .map(|(_, ty)| ty.clone()),
                source_raw
                    .outputs
                    .iter()
                    .flat_map(|o| &o.0)
                    .find(|(name, _)| name.value == output)
                    .map(|(_, ty)| ty.span),
                format!("{}.{output}", operations[source].name),
            ),
        };
        let (Some(source_ty), Some(source_span)) = (source_ty, source_span) else {
            return;
        };
        let Some(element) = element_of(&source_ty) else {
            self.error(Diagnostic::MapSourceNotList {
                operation: op.name.value.clone(),
                param: param.to_owned(),
                source_name,
                source_type: source_ty.to_string(),
                span: at(entry),
                source_span: at(source_span),
            });
            return;
        };
        if let (Some(ty), Some(written)) = (ty, written_type(op, param))
            && !types::accepts(ty, &element)
        {
            self.error(Diagnostic::MapElementMismatch {
                operation: op.name.value.clone(),
                param: param.to_owned(),
                param_type: ty.to_string(),
                source_name,
                source_type: source_ty.to_string(),
                element: element.to_string(),
                span: at(written.span),
                source_span: at(source_span),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{element_of, list_of};
    use crate::resolve::types::parse;

    fn element(text: &str) -> Option<String> {
        element_of(&parse(text).ok()?).map(|e| e.to_string())
    }

    #[test]
    fn sequences_give_their_element_type() {
        assert_eq!(element("list[int]").as_deref(), Some("int"));
        assert_eq!(element("List[jobs.Page]").as_deref(), Some("jobs.Page"));
        assert_eq!(element("Sequence[str]").as_deref(), Some("str"));
        assert_eq!(element("typing.Sequence[str]").as_deref(), Some("str"));
        assert_eq!(element("set[int]").as_deref(), Some("int"));
        assert_eq!(element("tuple[int, ...]").as_deref(), Some("int"));
        assert_eq!(element("list[int | None]").as_deref(), Some("int | None"));
    }

    #[test]
    fn other_types_have_no_element_type() {
        assert_eq!(element("int"), None);
        assert_eq!(element("list"), None);
        assert_eq!(element("tuple[int, str]"), None);
        assert_eq!(element("dict[str, int]"), None);
        assert_eq!(element("str"), None);
    }

    #[test]
    fn a_mapped_result_is_a_list() {
        let ty = list_of(parse("int").unwrap_or(crate::resolve::TypeExpr::None));
        assert_eq!(ty.to_string(), "list[int]");
        assert_eq!(
            element_of(&ty).map(|e| e.to_string()).as_deref(),
            Some("int")
        );
    }
}
