//! The ledger as CSV (RFC 4180) or JSON, for spreadsheets and other tools.

use std::borrow::Cow;

use super::{Ledger, LedgerRow, PropertyError};
use crate::commons::Commons;

/// A ledger export format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LedgerFormat {
    Csv,
    Json,
}

impl LedgerFormat {
    /// Parses `"csv"` or `"json"` (any case), as the JS API passes it.
    pub fn parse(s: &str) -> Result<Self, PropertyError> {
        match s.to_ascii_lowercase().as_str() {
            "csv" => Ok(LedgerFormat::Csv),
            "json" => Ok(LedgerFormat::Json),
            _ => Err(PropertyError::UnknownFormat(s.to_string())),
        }
    }
}

/// The CSV columns, in order; the same names as the JSON fields.
pub const CSV_COLUMNS: [&str; 20] = [
    "author",
    "name",
    "changes",
    "carried_changes",
    "documents_created",
    "edits",
    "inserted",
    "surviving",
    "deleted",
    "text_share_ppm",
    "comments",
    "tasks_completed",
    "endorsements_given",
    "endorsements_received",
    "proposals",
    "votes",
    "participant_since",
    "member_since",
    "contribution_share_ppm",
    "equivocating",
];

impl Ledger {
    /// RFC 4180 CSV: a header line, then one line per participant, CRLF line ends. A missing
    /// value (no name, not a member) is an empty field.
    pub fn to_csv(&self) -> String {
        let mut out = CSV_COLUMNS.join(",");
        out.push_str("\r\n");
        for r in &self.rows {
            let fields = row_fields(r);
            let line: Vec<Cow<'_, str>> = fields.iter().map(|f| csv_field(f)).collect();
            out.push_str(&line.join(","));
            out.push_str("\r\n");
        }
        out
    }

    /// Pretty-printed JSON of the whole ledger (rows, totals, commons, licence).
    pub fn to_json(&self) -> String {
        // Serializing plain structs of strings and integers cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

impl Commons {
    /// The ledger in the given format (`exportLedger('csv' | 'json')` in the JS API).
    pub fn export_ledger(&self, format: LedgerFormat) -> String {
        let ledger = self.ledger();
        match format {
            LedgerFormat::Csv => ledger.to_csv(),
            LedgerFormat::Json => ledger.to_json(),
        }
    }
}

fn row_fields(r: &LedgerRow) -> Vec<String> {
    let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
    vec![
        r.author.clone(),
        r.name.clone().unwrap_or_default(),
        r.changes.to_string(),
        r.carried_changes.to_string(),
        r.documents_created.to_string(),
        r.edits.to_string(),
        r.inserted.to_string(),
        r.surviving.to_string(),
        r.deleted.to_string(),
        r.text_share_ppm.to_string(),
        r.comments.to_string(),
        r.tasks_completed.to_string(),
        r.endorsements_given.to_string(),
        r.endorsements_received.to_string(),
        r.proposals.to_string(),
        r.votes.to_string(),
        opt(r.participant_since),
        opt(r.member_since),
        r.contribution_share_ppm.to_string(),
        r.equivocating.to_string(),
    ]
}

/// One CSV field. Names are claims anyone can make: a leading `=`, `+`, `-`, `@`, tab or CR
/// would make a spreadsheet run the field as a formula, so such a field gets a leading `'`
/// (the OWASP advice); a field holding a comma, quote or line break is quoted, quotes doubled.
pub(crate) fn csv_field(s: &str) -> Cow<'_, str> {
    let formula = s.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quote = s.contains([',', '"', '\n', '\r']);
    if !formula && !quote {
        return Cow::Borrowed(s);
    }
    let mut v = String::with_capacity(s.len() + 3);
    if formula {
        v.push('\'');
    }
    v.push_str(s);
    if quote {
        Cow::Owned(format!("\"{}\"", v.replace('"', "\"\"")))
    } else {
        Cow::Owned(v)
    }
}
