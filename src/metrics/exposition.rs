//! The two exposition formats `/metrics` offers and the `Accept` negotiation between them.
//!
//! - Prometheus text format 0.0.4 (`text/plain; version=0.0.4`), the default: what `curl`,
//!   `promtool check metrics` and scrapers that do not ask for OpenMetrics read. A counter's
//!   `# HELP`/`# TYPE` lines name the sample (`sqlgate_decisions_total`), as text 0.0.4 has no
//!   families apart from their samples.
//! - OpenMetrics 1.0.0 (`application/openmetrics-text; version=1.0.0`), when the client's
//!   `Accept` prefers it (Prometheus's scraper does): a counter's metadata names the family
//!   (`sqlgate_decisions`) and its sample adds `_total`, and the page ends with `# EOF`.
//!
//! prometheus-client writes OpenMetrics only, so the text page is derived from it
//! ([`openmetrics_to_text`]).

use std::collections::HashSet;

/// `Content-Type` of the text format 0.0.4 page.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// `Content-Type` of the OpenMetrics page.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// An exposition format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4.
    Text,
    /// OpenMetrics 1.0.0.
    OpenMetrics,
}

impl Format {
    /// The `Content-Type` the page is served with.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => TEXT_CONTENT_TYPE,
            Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
        }
    }
}

/// The format to serve for an `Accept` header: OpenMetrics when the client gives it a higher
/// quality than the text format (a `version` other than 1.0.0 or 0.0.1 does not count), else
/// the text format, also when the header is absent, unparsable or names neither (Prometheus
/// client libraries do the same: every scraper reads text 0.0.4).
pub fn negotiate(accept: Option<&str>) -> Format {
    let Some(accept) = accept else {
        return Format::Text;
    };
    let (mut openmetrics, mut text) = (0.0f32, 0.0f32);
    for range in accept.split(',') {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        let (mut q, mut version) = (1.0f32, None);
        for p in parts {
            let Some((k, v)) = p.split_once('=') else {
                continue;
            };
            let v = v.trim().trim_matches('"');
            match k.trim().to_ascii_lowercase().as_str() {
                "q" => {
                    q = v
                        .parse()
                        .ok()
                        .filter(|q| (0.0..=1.0).contains(q))
                        .unwrap_or(0.0)
                }
                "version" => version = Some(v.to_string()),
                _ => {}
            }
        }
        match media.as_str() {
            "application/openmetrics-text"
                if version
                    .as_deref()
                    .is_none_or(|v| v == "1.0.0" || v == "0.0.1") =>
            {
                openmetrics = openmetrics.max(q);
            }
            "text/plain" if version.as_deref().is_none_or(|v| v == "0.0.4") => {
                text = text.max(q);
            }
            _ => {}
        }
    }
    if openmetrics > 0.0 && openmetrics > text {
        Format::OpenMetrics
    } else {
        Format::Text
    }
}

/// Prometheus text format 0.0.4 of an OpenMetrics page as prometheus-client writes it:
/// a counter's `# HELP`/`# TYPE` name its `_total` sample, its `_created` samples are left
/// out, `# UNIT` and `# EOF` are dropped, and `unknown` (or any other type text 0.0.4 lacks;
/// the gateway exports none) becomes `untyped`. Help text keeps its escapes except `\"`,
/// which text 0.0.4 does not have.
pub fn openmetrics_to_text(om: &str) -> String {
    let counters: HashSet<&str> = om
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(om.len() + 16 * counters.len());
    for line in om.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            let help = help.replace("\\\"", "\"");
            if counters.contains(name) {
                out.push_str(&format!("# HELP {name}_total {help}\n"));
            } else {
                out.push_str(&format!("# HELP {name} {help}\n"));
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, ""));
            if counters.contains(name) {
                out.push_str(&format!("# TYPE {name}_total counter\n"));
            } else {
                let kind = match kind {
                    "gauge" | "histogram" | "summary" => kind,
                    _ => "untyped",
                };
                out.push_str(&format!("# TYPE {name} {kind}\n"));
            }
            continue;
        }
        let sample = line.split(['{', ' ']).next().unwrap_or("");
        if sample
            .strip_suffix("_created")
            .is_some_and(|family| counters.contains(family))
        {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROMETHEUS_SCRAPER: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

    #[test]
    fn accept_headers_choose_the_format() {
        for (accept, want) in [
            (None, Format::Text),
            (Some("*/*"), Format::Text),
            (Some("text/plain"), Format::Text),
            (Some("text/plain; version=0.0.4"), Format::Text),
            (Some("application/json"), Format::Text),
            (Some(";;;,,=q"), Format::Text),
            (Some(PROMETHEUS_SCRAPER), Format::OpenMetrics),
            (Some("application/openmetrics-text"), Format::OpenMetrics),
            (
                Some("Application/OpenMetrics-Text; Version=1.0.0"),
                Format::OpenMetrics,
            ),
            (Some("application/openmetrics-text; q=0"), Format::Text),
            (
                Some("application/openmetrics-text; version=2.0.0"),
                Format::Text,
            ),
            (
                Some("application/openmetrics-text;q=0.4, text/plain;q=0.9"),
                Format::Text,
            ),
            (
                Some("text/plain;q=0.2, application/openmetrics-text;q=0.3"),
                Format::OpenMetrics,
            ),
            (Some("application/openmetrics-text;q=abc"), Format::Text),
        ] {
            assert_eq!(negotiate(accept), want, "{accept:?}");
        }
    }

    #[test]
    fn text_format_names_the_counter_sample_and_drops_openmetrics_lines() {
        let om = "# HELP sqlgate_decisions Access \\\"decisions\\\".\n\
                  # TYPE sqlgate_decisions counter\n\
                  # UNIT sqlgate_decisions decisions\n\
                  sqlgate_decisions_total{stage=\"parse\"} 1\n\
                  sqlgate_decisions_created{stage=\"parse\"} 1.7e9\n\
                  # HELP sqlgate_statements Statements stored.\n\
                  # TYPE sqlgate_statements gauge\n\
                  sqlgate_statements 3\n\
                  # HELP sqlgate_odd Odd.\n\
                  # TYPE sqlgate_odd unknown\n\
                  sqlgate_odd 1\n\
                  # EOF\n";
        assert_eq!(
            openmetrics_to_text(om),
            "# HELP sqlgate_decisions_total Access \"decisions\".\n\
             # TYPE sqlgate_decisions_total counter\n\
             sqlgate_decisions_total{stage=\"parse\"} 1\n\
             # HELP sqlgate_statements Statements stored.\n\
             # TYPE sqlgate_statements gauge\n\
             sqlgate_statements 3\n\
             # HELP sqlgate_odd Odd.\n\
             # TYPE sqlgate_odd untyped\n\
             sqlgate_odd 1\n"
        );
    }
}
