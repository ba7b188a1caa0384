//! `trigger = "all_done"`: an operation that runs once its upstream
//! operations finished, failed or not (docs/DESIGN.md §4, "Triggers"). A
//! parameter bound to an operation may then receive `None`.

use super::types::{self, TypeExpr};
use super::{Binding, Operation, Resolver};
use crate::diagnostic::{Diagnostic, at};
use crate::manifest::RawManifest;
use crate::manifest::raw::Trigger;

impl Resolver<'_> {
    /// Every parameter of an `all_done` operation bound to another
    /// operation has a type that accepts `None`; a mapped operation is not
    /// `all_done`.
    pub(super) fn check_triggers(&mut self, raw: &RawManifest, operations: &[Operation]) {
        for (i, spanned) in raw.operations.iter().enumerate() {
            let op = &spanned.value;
            let Some(trigger) = op.trigger.as_ref().filter(|t| t.value == Trigger::AllDone) else {
                continue;
            };
            if let Some(first) = op.mapped().iter().next() {
                self.error(Diagnostic::AllDoneMapped {
                    operation: op.name.value.clone(),
                    span: at(trigger.span),
                    map: at(first.span),
                });
                continue;
            }
            let Some(resolved) = operations.get(i) else {
                continue;
            };
            for param in &resolved.params {
                if !matches!(param.binding, Binding::Operation { .. }) {
                    continue;
                }
                if param
                    .ty
                    .as_ref()
                    .is_some_and(|ty| types::accepts(ty, &TypeExpr::None))
                {
                    continue;
                }
                let written = super::map::written_type(op, &param.name);
                let (param_type, span, help) = match (&param.ty, written) {
                    (Some(ty), Some(written)) => (
                        format!("its type is `{ty}`"),
                        written.span,
                        format!("write `{ty} | None`, and let the function handle `None`"),
                    ),
                    _ => (
                        "it has no type".to_owned(),
                        param.span,
                        "give it a type that accepts `None`, e.g. `type = \"int | None\"`"
                            .to_owned(),
                    ),
                };
                self.error(Diagnostic::AllDoneNotOptional {
                    operation: op.name.value.clone(),
                    param: param.name.clone(),
                    param_type,
                    span: at(span),
                    trigger: at(trigger.span),
                    help,
                });
            }
        }
    }
}
