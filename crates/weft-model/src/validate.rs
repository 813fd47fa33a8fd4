//! Checks shared by every command.

use std::collections::BTreeSet;

use uuid::Uuid;
use weft_types::FqName;

use crate::error::ModelError;
use crate::model::Model;
use crate::objects::Kind;

/// Longest name, description, tag, device owner or id, as in Neutron.
pub(crate) const MAX_TEXT: usize = 255;

pub(crate) fn text(field: &str, value: &str) -> Result<(), ModelError> {
    if value.chars().count() > MAX_TEXT {
        return Err(ModelError::invalid(
            field,
            format!("longer than {MAX_TEXT} characters"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(ModelError::invalid(field, "contains a control character"));
    }
    Ok(())
}

pub(crate) fn description(value: &str) -> Result<(), ModelError> {
    text("description", value)
}

pub(crate) fn tags(tags: &[String]) -> Result<(), ModelError> {
    let mut seen = BTreeSet::new();
    for (i, tag) in tags.iter().enumerate() {
        let field = format!("tags[{i}]");
        if tag.is_empty() {
            return Err(ModelError::invalid(field, "a tag cannot be empty"));
        }
        if tag.contains(',') {
            return Err(ModelError::invalid(field, "a tag cannot contain ','"));
        }
        text(&field, tag)?;
        if !seen.insert(tag) {
            return Err(ModelError::invalid(
                field,
                format!("tag '{tag}' is given twice"),
            ));
        }
    }
    Ok(())
}

/// Checks that a requested id is free.
pub(crate) fn new_id(model: &Model, kind: Kind, id: Option<Uuid>) -> Result<(), ModelError> {
    match id {
        Some(id) if model.get(kind, id).is_some() => Err(ModelError::AlreadyExists {
            field: "id".into(),
            kind,
            name: id.to_string(),
        }),
        _ => Ok(()),
    }
}

/// Checks that a unique name is free.
pub(crate) fn new_name(
    model: &Model,
    kind: Kind,
    field: &str,
    name: &FqName,
) -> Result<(), ModelError> {
    if model.names.contains_key(&(kind, name.clone())) {
        return Err(ModelError::AlreadyExists {
            field: field.into(),
            kind,
            name: name.to_string(),
        });
    }
    Ok(())
}

/// Checks an FQ name's depth, naming the expected form.
pub(crate) fn fq_depth(
    field: &str,
    name: &FqName,
    depth: usize,
    form: &str,
) -> Result<(), ModelError> {
    if name.components().len() != depth {
        return Err(ModelError::invalid(
            field,
            format!(
                "'{name}' has {} components; expected {form}",
                name.components().len()
            ),
        ));
    }
    Ok(())
}

/// The lowest number at or above `start` not in `used`.
pub(crate) fn lowest_free(used: &BTreeSet<u32>, start: u32) -> Option<u32> {
    let mut candidate = start;
    for &taken in used.range(start..) {
        if taken != candidate {
            break;
        }
        candidate = candidate.checked_add(1)?;
    }
    Some(candidate)
}
