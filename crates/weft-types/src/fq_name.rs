//! Fully qualified names: `domain:project:name`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The domain every project lives in unless another is named.
pub const DEFAULT_DOMAIN: &str = "default-domain";

/// Longest accepted component, the same bound Neutron and Keystone put on names.
const MAX_COMPONENT_LEN: usize = 255;

/// A fully qualified name: one or more non-empty components joined by `:`.
///
/// Domains have one component, projects two (`domain:project`), and objects
/// owned by a project three (`domain:project:name`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FqName(Vec<String>);

/// Why a text is not a valid FQ name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FqNameError {
    #[error("FQ name is empty")]
    Empty,
    #[error("FQ name component {index} is empty (components are joined by ':')")]
    EmptyComponent { index: usize },
    #[error("FQ name component {index} is longer than {MAX_COMPONENT_LEN} characters")]
    TooLong { index: usize },
    #[error("FQ name component {index} contains a control character")]
    ControlCharacter { index: usize },
    #[error("FQ name component {index} contains ':', which separates components")]
    Separator { index: usize },
    #[error("FQ name has {found} components, expected {expected} ({form})")]
    WrongDepth {
        found: usize,
        expected: usize,
        form: &'static str,
    },
}

impl FqName {
    /// Builds a name from components, checking each.
    pub fn from_components<I, S>(components: I) -> Result<Self, FqNameError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let parts: Vec<String> = components.into_iter().map(Into::into).collect();
        if parts.is_empty() {
            return Err(FqNameError::Empty);
        }
        for (index, part) in parts.iter().enumerate() {
            check_component(index, part)?;
        }
        Ok(FqName(parts))
    }

    /// `domain:project` for a project.
    pub fn project(domain: &str, project: &str) -> Result<Self, FqNameError> {
        Self::from_components([domain, project])
    }

    /// `domain:project:name` for an object owned by a project.
    pub fn object(domain: &str, project: &str, name: &str) -> Result<Self, FqNameError> {
        Self::from_components([domain, project, name])
    }

    /// Parses `text` and requires exactly `depth` components; `form` names the
    /// expected shape in the error (for example `"domain:project:name"`).
    pub fn parse_with_depth(
        text: &str,
        depth: usize,
        form: &'static str,
    ) -> Result<Self, FqNameError> {
        let name: FqName = text.parse()?;
        if name.0.len() != depth {
            return Err(FqNameError::WrongDepth {
                found: name.0.len(),
                expected: depth,
                form,
            });
        }
        Ok(name)
    }

    pub fn components(&self) -> &[String] {
        &self.0
    }

    /// The last component: the object's own name.
    pub fn name(&self) -> &str {
        self.0.last().map(String::as_str).unwrap_or_default()
    }

    /// The name without its last component (`domain:project` for an object).
    pub fn parent(&self) -> Option<FqName> {
        (self.0.len() > 1).then(|| FqName(self.0[..self.0.len() - 1].to_vec()))
    }

    /// A child of this name.
    pub fn child(&self, name: &str) -> Result<FqName, FqNameError> {
        check_component(self.0.len(), name)?;
        let mut parts = self.0.clone();
        parts.push(name.to_owned());
        Ok(FqName(parts))
    }
}

fn check_component(index: usize, part: &str) -> Result<(), FqNameError> {
    if part.is_empty() {
        return Err(FqNameError::EmptyComponent { index });
    }
    if part.chars().count() > MAX_COMPONENT_LEN {
        return Err(FqNameError::TooLong { index });
    }
    if part.chars().any(char::is_control) {
        return Err(FqNameError::ControlCharacter { index });
    }
    if part.contains(':') {
        return Err(FqNameError::Separator { index });
    }
    Ok(())
}

impl FromStr for FqName {
    type Err = FqNameError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.is_empty() {
            return Err(FqNameError::Empty);
        }
        Self::from_components(text.split(':'))
    }
}

impl fmt::Display for FqName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(":"))
    }
}

impl fmt::Debug for FqName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FqName({self})")
    }
}

impl Serialize for FqName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for FqName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for FqName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("Fully qualified name, components joined by ':'"))
            .examples([serde_json::json!("default-domain:k8s-contrail:seamless")])
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for FqName {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_object_names() {
        let name: FqName = "default-domain:k8s-contrail:seamless".parse().unwrap();
        assert_eq!(name.components().len(), 3);
        assert_eq!(name.name(), "seamless");
        assert_eq!(
            name.parent().unwrap().to_string(),
            "default-domain:k8s-contrail"
        );
        assert_eq!(name.to_string(), "default-domain:k8s-contrail:seamless");
    }

    #[test]
    fn rejects_empty_components_with_their_position() {
        assert_eq!(
            "a::b".parse::<FqName>(),
            Err(FqNameError::EmptyComponent { index: 1 })
        );
        assert_eq!("".parse::<FqName>(), Err(FqNameError::Empty));
        assert_eq!(
            "a:".parse::<FqName>(),
            Err(FqNameError::EmptyComponent { index: 1 })
        );
    }

    #[test]
    fn a_component_cannot_hold_the_separator() {
        // Otherwise a name would print to text that parses back differently.
        let base = FqName::project("d", "p").unwrap();
        assert_eq!(base.child("a:b"), Err(FqNameError::Separator { index: 2 }));
        assert!(FqName::from_components(["x:default"]).is_err());
    }

    #[test]
    fn depth_is_enforced_when_asked() {
        let err = FqName::parse_with_depth("a:b", 3, "domain:project:name").unwrap_err();
        assert_eq!(
            err.to_string(),
            "FQ name has 2 components, expected 3 (domain:project:name)"
        );
    }

    #[test]
    fn serde_uses_the_text_form() {
        let name = FqName::object("d", "p", "n").unwrap();
        assert_eq!(serde_json::to_string(&name).unwrap(), "\"d:p:n\"");
        assert!(serde_json::from_str::<FqName>("\"d::n\"").is_err());
    }
}
