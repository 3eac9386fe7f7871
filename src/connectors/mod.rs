//! The registry: every vendor auditmirror mirrors, each one folder (API shapes,
//! paging, auth, mapping, its account config, its table's row type, its tests)
//! that implements the seam in `connector.rs`. This file is the only place that
//! lists them; `json` holds what every connector uses to read bodies.

pub mod genesys;
pub mod gong;
pub mod json;

use crate::connector::Vendor;

/// Which vendor a stream belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum)]
pub enum Source {
    Gong,
    Genesys,
}

impl Source {
    /// Every registered vendor, in the order config, status and reports use.
    pub const ALL: [Source; 2] = [Source::Gong, Source::Genesys];

    /// The vendor behind this source.
    pub fn vendor(self) -> &'static Vendor {
        match self {
            Source::Gong => &gong::VENDOR,
            Source::Genesys => &genesys::VENDOR,
        }
    }

    pub fn as_str(self) -> &'static str {
        self.vendor().name
    }

    pub fn parse(s: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_tables_are_distinct() {
        for s in Source::ALL {
            assert_eq!(Source::parse(s.as_str()), Some(s));
            let value = clap::ValueEnum::to_possible_value(&s).unwrap();
            assert_eq!(
                value.get_name(),
                s.as_str(),
                "--source spells it as the config does"
            );
        }
        let tables: std::collections::HashSet<_> =
            Source::ALL.iter().map(|s| s.vendor().table.name).collect();
        assert_eq!(tables.len(), Source::ALL.len());
    }
}
