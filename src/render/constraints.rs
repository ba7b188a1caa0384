//! A flow parameter's rules (`resolve::rules`) in its annotation, so that
//! Prefect's pydantic model of the flow's signature checks every run, also
//! those started from Prefect: `choices` as `Literal[...]`, the bounds,
//! `pattern` and lengths as `Annotated[T, Field(...)]`. Optional
//! parameters keep `| None` outside (`None` passes every rule).

use super::python;
use crate::resolve::TypeExpr;
use crate::resolve::rules::Rules;

/// What a flow module imports for its parameters' rules.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Needs {
    /// `typing.Annotated` and `pydantic.Field`.
    pub field: bool,
    /// `typing.Literal`.
    pub literal: bool,
}

/// The bounds, pattern and lengths as `Field`'s keywords, in a fixed order.
fn field_arguments(rules: &Rules) -> Vec<String> {
    let mut args = Vec::new();
    for (key, value) in [
        ("ge", rules.ge),
        ("gt", rules.gt),
        ("le", rules.le),
        ("lt", rules.lt),
    ] {
        if let Some(value) = value {
            args.push(format!("{key}={}", super::tasks::number(value)));
        }
    }
    if let Some(pattern) = &rules.pattern {
        args.push(format!("pattern={}", python::string(pattern)));
    }
    for (key, value) in [
        ("min_length", rules.min_length),
        ("max_length", rules.max_length),
    ] {
        if let Some(value) = value {
            args.push(format!("{key}={value}"));
        }
    }
    args
}

impl Needs {
    pub(super) fn of<'r>(rules: impl IntoIterator<Item = Option<&'r Rules>>) -> Self {
        let mut needs = Self::default();
        for rules in rules.into_iter().flatten() {
            needs.field |= !field_arguments(rules).is_empty();
            needs.literal |= rules.choices.is_some();
        }
        needs
    }
}

fn name(text: String, args: Option<Vec<TypeExpr>>) -> TypeExpr {
    TypeExpr::Name { name: text, args }
}

/// The annotation `ty` (as written, optional when the default is None)
/// with `rules` in it. Rules are only given when the type admits them
/// (checked by resolve), so the type is kept as a whole or replaced by
/// the choices.
pub(super) fn annotate(ty: Option<&TypeExpr>, rules: Option<&Rules>) -> Option<TypeExpr> {
    let Some(rules) = rules else {
        return ty.cloned();
    };
    let ty = ty.map(TypeExpr::modern);
    let optional =
        matches!(&ty, Some(TypeExpr::Union(members)) if members.contains(&TypeExpr::None));
    let mut base = match (&rules.choices, &ty) {
        (Some(choices), _) => name(
            "Literal".to_owned(),
            Some(
                choices
                    .iter()
                    .map(|c| name(python::literal(c), None))
                    .collect(),
            ),
        ),
        (None, Some(TypeExpr::Union(members))) if optional => {
            let rest: Vec<TypeExpr> = members
                .iter()
                .filter(|m| **m != TypeExpr::None)
                .cloned()
                .collect();
            match <[TypeExpr; 1]>::try_from(rest) {
                Ok([one]) => one,
                Err(rest) => TypeExpr::Union(rest),
            }
        }
        (None, Some(ty)) => ty.clone(),
        (None, None) => name("Any".to_owned(), None),
    };
    let field = field_arguments(rules);
    if !field.is_empty() {
        base = name(
            "Annotated".to_owned(),
            Some(vec![
                base,
                name(format!("Field({})", field.join(", ")), None),
            ]),
        );
    }
    Some(if optional {
        TypeExpr::Union(vec![base, TypeExpr::None])
    } else {
        base
    })
}
