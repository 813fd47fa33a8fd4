//! List queries as Neutron reads them: attribute filters (a repeated key is
//! a list of accepted values), tag filters, `fields`, sorting (`sort_key`,
//! `sort_dir`) and pagination (`limit`, `marker`, `page_reverse`, answered
//! with `<collection>_links`).
//!
//! It works on rendered objects, so what can be filtered and sorted is
//! exactly what the API shows.

use std::cmp::Ordering;

use serde_json::{Map, Value, json};

use crate::error::NeutronError;

const TAG_FILTERS: [&str; 4] = ["tags", "tags-any", "not-tags", "not-tags-any"];

/// A parsed list query.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListQuery {
    /// Every pair, as given, for building links.
    pairs: Vec<(String, String)>,
    filters: Vec<(String, Vec<String>)>,
    tags: Vec<(String, Vec<String>)>,
    pub fields: Vec<String>,
    limit: Option<usize>,
    marker: Option<String>,
    page_reverse: bool,
    sort: Vec<(String, bool)>,
}

/// A list answer: the objects and, when paginated, the links.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub items: Vec<Value>,
    pub links: Option<Vec<Value>>,
}

fn truthy(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

impl ListQuery {
    /// Parses a raw query string; `attributes` are the resource's filterable
    /// and sortable attributes.
    pub fn parse(raw: &str, attributes: &[&str]) -> Result<ListQuery, NeutronError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw).map_err(|e| {
            NeutronError::bad_request(format!("The query string is malformed: {e}"))
        })?;
        let mut query = ListQuery {
            pairs: pairs.clone(),
            ..ListQuery::default()
        };
        let mut unknown = Vec::new();
        let mut sort_keys = Vec::new();
        let mut sort_dirs = Vec::new();
        for (key, value) in pairs {
            match key.as_str() {
                "fields" => query.fields.push(value),
                "limit" => {
                    let limit: i64 = value.parse().map_err(|_| {
                        NeutronError::bad_request(format!(
                            "Bad limit request: limit must be an integer, not '{value}'."
                        ))
                    })?;
                    if limit < 0 {
                        return Err(NeutronError::bad_request(
                            "Bad limit request: limit must be an integer 0 or greater and not '"
                                .to_owned()
                                + &value
                                + "'.",
                        ));
                    }
                    // Neutron reads 0 as "no limit".
                    query.limit = usize::try_from(limit).ok().filter(|l| *l > 0);
                }
                "marker" => query.marker = Some(value),
                "page_reverse" => {
                    query.page_reverse = truthy(&value).ok_or_else(|| {
                        NeutronError::invalid(format!("'{value}' cannot be converted to boolean"))
                    })?;
                }
                "sort_key" => {
                    if !attributes.contains(&value.as_str()) {
                        return Err(NeutronError::bad_request(format!(
                            "{value} is an invalid attribute for sort_keys"
                        )));
                    }
                    sort_keys.push(value);
                }
                "sort_dir" => match value.as_str() {
                    "asc" => sort_dirs.push(true),
                    "desc" => sort_dirs.push(false),
                    _ => {
                        return Err(NeutronError::bad_request(format!(
                            "{value} is an invalid value for sort_dirs, valid values are 'asc' and 'desc'"
                        )));
                    }
                },
                _ if TAG_FILTERS.contains(&key.as_str()) => {
                    let tags = value.split(',').map(str::to_owned).collect();
                    query.tags.push((key, tags));
                }
                _ if attributes.contains(&key.as_str()) => {
                    match query.filters.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, values)) => values.push(value),
                        None => query.filters.push((key, vec![value])),
                    }
                }
                _ => {
                    if !unknown.contains(&key) {
                        unknown.push(key);
                    }
                }
            }
        }
        if !unknown.is_empty() {
            let list: Vec<String> = unknown.iter().map(|k| format!("'{k}'")).collect();
            return Err(NeutronError::bad_request(format!(
                "[{}] is invalid attribute for filtering",
                list.join(", ")
            )));
        }
        if !sort_dirs.is_empty() && sort_dirs.len() != sort_keys.len() {
            return Err(NeutronError::bad_request(
                "The number of sort_keys and sort_dirs must be same",
            ));
        }
        query.sort = sort_keys
            .into_iter()
            .enumerate()
            .map(|(i, key)| (key, sort_dirs.get(i).copied().unwrap_or(true)))
            .collect();
        Ok(query)
    }

    /// Whether an object passes every filter.
    pub fn matches(&self, object: &Map<String, Value>) -> bool {
        let filters_pass = self.filters.iter().all(|(key, values)| {
            let value = object.get(key).unwrap_or(&Value::Null);
            values.iter().any(|wanted| value_matches(value, wanted))
        });
        let tags: Vec<&str> = object
            .get("tags")
            .and_then(Value::as_array)
            .map(|tags| tags.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let tags_pass = self.tags.iter().all(|(kind, wanted)| {
            let has = |t: &String| tags.contains(&t.as_str());
            match kind.as_str() {
                "tags" => wanted.iter().all(has),
                "tags-any" => wanted.iter().any(has),
                "not-tags" => !wanted.iter().all(has),
                _ => !wanted.iter().any(has),
            }
        });
        filters_pass && tags_pass
    }

    /// Sorts, pages and trims `items` (already filtered). `collection_url`
    /// is the absolute URL of the collection, for the links.
    pub fn page(&self, mut items: Vec<Map<String, Value>>, collection_url: &str) -> Page {
        // Sorting by id last makes the order total, so markers are stable.
        let mut keys = self.sort.clone();
        if !keys.iter().any(|(k, _)| k == "id") {
            keys.push(("id".into(), keys.last().is_none_or(|(_, asc)| *asc)));
        }
        items.sort_by(|a, b| {
            keys.iter()
                .map(|(key, asc)| {
                    let order = compare(
                        a.get(key).unwrap_or(&Value::Null),
                        b.get(key).unwrap_or(&Value::Null),
                    );
                    if *asc { order } else { order.reverse() }
                })
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        });
        let links = match self.limit {
            None => None,
            Some(limit) => {
                if self.page_reverse {
                    items.reverse();
                }
                let start = match &self.marker {
                    Some(marker) => items
                        .iter()
                        .position(|o| o.get("id").and_then(Value::as_str) == Some(marker))
                        .map_or(0, |at| at + 1),
                    None => 0,
                };
                items = items.into_iter().skip(start).take(limit).collect();
                if self.page_reverse {
                    items.reverse();
                }
                let id_at = |i: usize| {
                    items
                        .get(i)
                        .and_then(|o| o.get("id"))
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                };
                let first = id_at(0);
                let last = items.len().checked_sub(1).and_then(id_at);
                // Neutron's rule: a short page ends the walk in its own
                // direction; every other page links both ways, an empty
                // page's links without a marker (from the end).
                let short = items.len() < limit;
                let mut links = Vec::new();
                if !short || self.page_reverse {
                    links.push(json!({"rel": "next", "href": self.link(collection_url, last.as_deref(), false)}));
                }
                if !short || !self.page_reverse {
                    links.push(json!({"rel": "previous", "href": self.link(collection_url, first.as_deref(), true)}));
                }
                Some(links)
            }
        };
        let items = items
            .into_iter()
            .map(|object| Value::Object(self.select(object)))
            .collect();
        Page { items, links }
    }

    /// Keeps only the asked-for `fields`, if any were asked for.
    pub fn select(&self, object: Map<String, Value>) -> Map<String, Value> {
        if self.fields.is_empty() {
            return object;
        }
        object
            .into_iter()
            .filter(|(k, _)| self.fields.contains(k))
            .collect()
    }

    fn link(&self, collection_url: &str, marker: Option<&str>, reverse: bool) -> String {
        let mut pairs: Vec<(String, String)> = self
            .pairs
            .iter()
            .filter(|(k, _)| k != "marker" && k != "page_reverse")
            .cloned()
            .collect();
        if let Some(marker) = marker {
            pairs.push(("marker".into(), marker.to_owned()));
        }
        if reverse {
            pairs.push(("page_reverse".into(), "True".into()));
        }
        let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        format!("{collection_url}?{query}")
    }
}

/// Neutron's fields query: only the asked-for fields of one object.
pub fn fields_only(raw: &str) -> Vec<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(raw)
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| k == "fields")
        .map(|(_, v)| v)
        .collect()
}

/// Whether a rendered value equals a filter's text.
fn value_matches(value: &Value, wanted: &str) -> bool {
    match value {
        Value::Null => wanted.is_empty() || wanted == "None",
        Value::Bool(b) => truthy(wanted) == Some(*b),
        Value::Number(n) => n.to_string() == wanted,
        Value::String(s) => s == wanted,
        Value::Array(items) => items.iter().any(|item| match item {
            // fixed_ips=ip_address=10.0.0.3 / fixed_ips=subnet_id=…
            Value::Object(fields) => match wanted.split_once('=') {
                Some((key, text)) => match key.strip_suffix("_substr") {
                    Some(key) => fields
                        .get(key)
                        .and_then(Value::as_str)
                        .is_some_and(|v| v.contains(text)),
                    None => fields.get(key).is_some_and(|v| value_matches(v, text)),
                },
                None => false,
            },
            other => value_matches(other, wanted),
        }),
        Value::Object(_) => false,
    }
}

/// A total order over rendered values: null < bools < numbers < strings.
fn compare(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Number(_) => 2,
            Value::String(_) => 3,
            Value::Array(_) => 4,
            Value::Object(_) => 5,
        }
    }
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => rank(a)
            .cmp(&rank(b))
            .then_with(|| a.to_string().cmp(&b.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ATTRS: [&str; 4] = ["id", "name", "shared", "fixed_ips"];

    fn object(id: &str, name: &str) -> Map<String, Value> {
        match json!({"id": id, "name": name, "shared": false, "tags": ["a"],
                     "fixed_ips": [{"subnet_id": "s", "ip_address": "10.0.0.3"}]})
        {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    fn ok(raw: &str) -> ListQuery {
        ListQuery::parse(raw, &ATTRS).unwrap_or_else(|e| panic!("{raw}: {e}"))
    }

    #[test]
    fn unknown_filters_are_refused_like_neutron() {
        let e = ListQuery::parse("foo=1&name=x&bar=2", &ATTRS)
            .err()
            .unwrap_or_else(|| panic!("accepted"));
        assert_eq!(e.kind, "HTTPBadRequest");
        assert_eq!(
            e.message,
            "['foo', 'bar'] is invalid attribute for filtering"
        );
    }

    #[test]
    fn filters_take_lists_booleans_and_fixed_ips() {
        let o = object("1", "x");
        assert!(ok("name=y&name=x").matches(&o));
        assert!(!ok("name=y").matches(&o));
        assert!(ok("shared=False").matches(&o));
        assert!(!ok("shared=true").matches(&o));
        assert!(ok("fixed_ips=ip_address%3D10.0.0.3").matches(&o));
        assert!(!ok("fixed_ips=ip_address%3D10.0.0.4").matches(&o));
        assert!(ok("tags=a").matches(&o));
        assert!(!ok("not-tags=a").matches(&o));
    }

    #[test]
    fn pages_forward_and_back_with_links() {
        let items: Vec<_> = ["c", "a", "d", "b"]
            .iter()
            .map(|id| object(id, id))
            .collect();
        let ids = |page: &Page| -> Vec<String> {
            page.items
                .iter()
                .filter_map(|o| o.get("id").and_then(Value::as_str).map(str::to_owned))
                .collect()
        };
        let rels = |page: &Page| -> Vec<String> {
            page.links
                .clone()
                .unwrap_or_default()
                .iter()
                .map(|l| {
                    format!(
                        "{} {}",
                        l["rel"].as_str().unwrap_or(""),
                        l["href"].as_str().unwrap_or("")
                    )
                })
                .collect()
        };
        let url = "http://h/v2.0/networks";
        // A full page links both ways (Neutron cannot know it is the last).
        let first = ok("limit=2").page(items.clone(), url);
        assert_eq!(ids(&first), ["a", "b"]);
        assert_eq!(
            rels(&first),
            [
                "next http://h/v2.0/networks?limit=2&marker=b",
                "previous http://h/v2.0/networks?limit=2&marker=a&page_reverse=True",
            ]
        );
        let second = ok("limit=2&marker=b").page(items.clone(), url);
        assert_eq!(ids(&second), ["c", "d"]);
        assert_eq!(rels(&second).len(), 2);
        // Past the end: an empty page, whose "previous" (without a marker)
        // walks back from the end; no "next".
        let past = ok("limit=2&marker=d").page(items.clone(), url);
        assert!(past.items.is_empty());
        assert_eq!(
            rels(&past),
            ["previous http://h/v2.0/networks?limit=2&page_reverse=True"]
        );
        let from_end = ok("limit=2&page_reverse=True").page(items.clone(), url);
        assert_eq!(ids(&from_end), ["c", "d"]);
        // A short page ends the walk in its direction.
        let short = ok("limit=3&marker=b").page(items.clone(), url);
        assert_eq!(ids(&short), ["c", "d"]);
        assert_eq!(
            rels(&short),
            ["previous http://h/v2.0/networks?limit=3&marker=c&page_reverse=True"]
        );
        let back = ok("limit=2&marker=c&page_reverse=True").page(items.clone(), "u");
        assert_eq!(ids(&back), ["a", "b"]);
        let sorted = ok("sort_key=name&sort_dir=desc&fields=id").page(items, "u");
        assert_eq!(ids(&sorted), ["d", "c", "b", "a"]);
        assert_eq!(sorted.items[0], json!({"id": "d"}));
        assert_eq!(sorted.links, None);
    }
}
