//! Tables for people, JSON for scripts.

use comfy_table::presets::NOTHING;
use comfy_table::{ContentArrangement, Table};
use serde::Serialize;

use crate::args::Format;

/// Prints rows as a table, or the objects as a JSON array.
pub(crate) fn list<T: Serialize>(
    format: Format,
    objects: &[T],
    header: &[&str],
    rows: Vec<Vec<String>>,
) {
    match format {
        Format::Json => json(objects),
        Format::Table => {
            let mut table = Table::new();
            table
                .load_style(NOTHING)
                .set_content_arrangement(ContentArrangement::Disabled)
                .set_header(header.to_vec());
            for row in rows {
                table.add_row(row);
            }
            emit(&table.to_string());
        }
    }
}

/// Prints one object as a two-column table of its fields, or as JSON.
pub(crate) fn show<T: Serialize>(format: Format, object: &T) {
    match format {
        Format::Json => json(object),
        Format::Table => {
            let value = serde_json::to_value(object).unwrap_or_default();
            let mut table = Table::new();
            table
                .load_style(NOTHING)
                .set_content_arrangement(ContentArrangement::Disabled)
                .set_header(vec!["FIELD", "VALUE"]);
            if let serde_json::Value::Object(map) = value {
                for (key, value) in map {
                    table.add_row(vec![key, plain(&value)]);
                }
            }
            emit(&table.to_string());
        }
    }
}

pub(crate) fn json<T: Serialize + ?Sized>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => emit(&text),
        Err(e) => eprintln!("weft: cannot print JSON: {e}"),
    }
}

/// A JSON value as a person reads it: strings bare, lists comma-separated.
pub(crate) fn plain(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(items) => items.iter().map(plain).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// Prints preformatted text.
pub(crate) fn text(text: &str) {
    emit(text);
}

#[allow(clippy::print_stdout)]
fn emit(text: &str) {
    println!("{text}");
}
