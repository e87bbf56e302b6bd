//! The two PostHog clouds. Every program names a region the same way: the
//! server stamps it on what it issues, the gateway refuses the other one's
//! credentials, and the wizard picks hosts by it.

use std::fmt;
use std::str::FromStr;

/// `us` or `eu`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Region {
    #[default]
    Us,
    Eu,
}

impl Region {
    /// Both regions, in the order flags list them.
    pub const ALL: [Region; 2] = [Region::Us, Region::Eu];

    /// Lower case, as flags and introspection's `region` field spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Region::Us => "us",
            Region::Eu => "eu",
        }
    }

    /// Upper case, as the provisioning API's `region` field spells it.
    pub fn upper(self) -> &'static str {
        match self {
            Region::Us => "US",
            Region::Eu => "EU",
        }
    }

    /// The region that is not this one.
    pub fn other(self) -> Region {
        match self {
            Region::Us => Region::Eu,
            Region::Eu => Region::Us,
        }
    }
}

impl fmt::Display for Region {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A region name that is neither `us` nor `eu`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown region {0:?} (expected us or eu)")]
pub struct UnknownRegion(pub String);

impl FromStr for Region {
    type Err = UnknownRegion;

    /// Either spelling, any case: `us`, `US`, `Eu`.
    fn from_str(text: &str) -> Result<Region, UnknownRegion> {
        Region::ALL
            .into_iter()
            .find(|region| region.as_str().eq_ignore_ascii_case(text))
            .ok_or_else(|| UnknownRegion(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spellings_parse_and_anything_else_is_refused() {
        for region in Region::ALL {
            assert_eq!(region.as_str().parse(), Ok(region));
            assert_eq!(region.upper().parse(), Ok(region));
            assert_eq!(region.to_string(), region.as_str());
            assert_eq!(region.other().other(), region);
        }
        assert_eq!("Eu".parse(), Ok(Region::Eu));
        assert_eq!(
            "mars".parse::<Region>(),
            Err(UnknownRegion("mars".to_owned()))
        );
        assert_eq!("".parse::<Region>(), Err(UnknownRegion(String::new())));
    }
}
