//! The two text formats a scraper may ask for: OpenMetrics 1.0 (what
//! prometheus-client writes) and Prometheus text 0.0.4 (what node_exporter's
//! textfile collector and older scrapers parse), derived from the first.

/// Which text to serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    OpenMetrics,
    Prometheus,
}

impl Format {
    /// OpenMetrics when the `Accept` header asks for it, else Prometheus text
    /// (what a scraper that asks for nothing in particular parses).
    pub fn from_accept(accept: Option<&str>) -> Format {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Prometheus,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
        }
    }
}

/// OpenMetrics text as Prometheus text 0.0.4: a counter family is named by its
/// samples (`x_total`, where OpenMetrics names it `x`), `# UNIT` and `# EOF`
/// go, `unknown` becomes `untyped`. Samples are the same in both.
pub fn to_prometheus(openmetrics: &str) -> String {
    let counters: Vec<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let descriptor = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|p| line.strip_prefix(p).map(|rest| (p, rest)));
        match descriptor {
            Some((prefix, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                let tail = if prefix == "# TYPE " && tail == "unknown" {
                    "untyped"
                } else {
                    tail
                };
                let suffix = if counters.contains(&name) {
                    "_total"
                } else {
                    ""
                };
                out.push_str(&format!("{prefix}{name}{suffix} {tail}\n"));
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_named_by_their_samples_and_eof_goes() {
        let om = "# HELP a_records Records.\n# TYPE a_records counter\na_records_total{x=\"1\"} 3\n\
                  # HELP a_seconds Time.\n# TYPE a_seconds gauge\n# UNIT a_seconds seconds\na_seconds 1.5\n\
                  # HELP a_odd Odd.\n# TYPE a_odd unknown\na_odd 1\n# EOF\n";
        assert_eq!(
            to_prometheus(om),
            "# HELP a_records_total Records.\n# TYPE a_records_total counter\na_records_total{x=\"1\"} 3\n\
             # HELP a_seconds Time.\n# TYPE a_seconds gauge\na_seconds 1.5\n\
             # HELP a_odd Odd.\n# TYPE a_odd untyped\na_odd 1\n"
        );
    }

    #[test]
    fn openmetrics_only_when_asked_for() {
        let prom = "text/plain;version=0.0.4;q=0.9";
        assert_eq!(Format::from_accept(None), Format::Prometheus);
        assert_eq!(Format::from_accept(Some(prom)), Format::Prometheus);
        let scraper = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::from_accept(Some(scraper)), Format::OpenMetrics);
    }
}
