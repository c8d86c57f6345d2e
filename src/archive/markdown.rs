//! The human export: a folder of Markdown files (one per document, each with its licence and a
//! credits section), a README, a LICENCE notice and CREDITS for the whole commons, and the
//! ledger as CSV and JSON, zipped. The zip is a pure function of the replica's state (fixed file
//! dates, fixed order), so two replicas with the same changes export the same bytes.
//!
//! Credits sections are link-free: names are claims anyone can make, so they are shown as code
//! spans, which Markdown never turns into links or markup.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::{Cursor, Write};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use super::ArchiveError;
use crate::change::ChangeId;
use crate::commons::property::{Credits, Ledger, LicenceView};
use crate::commons::{Commons, Document};

/// One file of the export: a path inside the folder, and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportFile {
    pub path: String,
    pub text: String,
}

impl Commons {
    /// The Markdown export as a list of files (paths relative to one top folder).
    pub fn markdown_files(&self) -> Vec<ExportFile> {
        let root = format!("{}-{}", slug(&self.title()), self.id().short());
        let ledger = self.ledger();
        let licence = self.licence();
        let offers = self.offers();
        let mut docs = Vec::new();
        let mut files = Vec::new();
        for d in self.documents_iter() {
            let path = format!("documents/{}-{}.md", slug(d.title()), d.id.short());
            let credits = self.credits(&d.id).unwrap_or_else(|| empty_credits(d));
            files.push(ExportFile {
                path: format!("{root}/{path}"),
                text: document_md(self, d, &credits, &licence, &offers),
            });
            docs.push((path, credits));
        }
        let mut top = vec![
            ExportFile {
                path: format!("{root}/README.md"),
                text: readme_md(self, &licence, &ledger, &docs),
            },
            ExportFile {
                path: format!("{root}/LICENCE.md"),
                text: licence_md(self, &licence),
            },
            ExportFile {
                path: format!("{root}/CREDITS.md"),
                text: credits_md(&ledger),
            },
            ExportFile {
                path: format!("{root}/ledger.csv"),
                text: ledger.to_csv(),
            },
            ExportFile {
                path: format!("{root}/ledger.json"),
                text: ledger.to_json(),
            },
        ];
        top.append(&mut files);
        top
    }

    /// The Markdown export as a zip (`exportMarkdown()` in the JS API).
    pub fn export_markdown(&self) -> Result<Vec<u8>, ArchiveError> {
        zip_files(&self.markdown_files())
    }

    fn title(&self) -> String {
        self.genesis_charter()
            .map(|c| c.title.clone())
            .unwrap_or_default()
    }
}

/// Zips files with deflate and a fixed date (1980-01-01, the zip epoch): no clock is read.
pub fn zip_files(files: &[ExportFile]) -> Result<Vec<u8>, ArchiveError> {
    let zip_err = |e: zip::result::ZipError| ArchiveError::Zip(e.to_string());
    let opts = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .last_modified_time(DateTime::default())
        .unix_permissions(0o644);
    let mut zw = ZipWriter::new(Cursor::new(Vec::new()));
    for f in files {
        zw.start_file(f.path.as_str(), opts).map_err(zip_err)?;
        zw.write_all(f.text.as_bytes())
            .map_err(|e| ArchiveError::Zip(e.to_string()))?;
    }
    Ok(zw.finish().map_err(zip_err)?.into_inner())
}

fn empty_credits(d: &Document) -> Credits {
    Credits {
        document: d.id.to_hex(),
        title: d.title().to_string(),
        licence: crate::commons::property::describe(""),
        length: 0,
        authors: vec![],
        unattributed: 0,
        carried_from: vec![],
    }
}

/// One document: title, text, licence, credits.
fn document_md(
    c: &Commons,
    d: &Document,
    credits: &Credits,
    licence: &LicenceView,
    offers: &BTreeMap<ChangeId, BTreeSet<String>>,
) -> String {
    let mut s = format!("# {}\n\n", one_line(d.title()));
    s.push_str(&d.text());
    s.push_str("\n\n---\n\n## Licence\n\n");
    s.push_str(&licence_sentence(licence));
    s.push('\n');
    let mut offered: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (_, ev) in d.history() {
        for spdx in offers.get(&ev.change).into_iter().flatten() {
            offered
                .entry(spdx.clone())
                .or_default()
                .insert(who(&ev.author.to_hex(), c.name_of(&ev.author)));
        }
    }
    if !offered.is_empty() {
        s.push_str("\nSome contributions are also offered by their authors under a more permissive licence:\n\n");
        for (spdx, authors) in &offered {
            let list: Vec<&str> = authors.iter().map(String::as_str).collect();
            let _ = writeln!(s, "- {spdx}: changes by {}", list.join(", "));
        }
    }
    if !credits.carried_from.is_empty() {
        let _ = write!(
            s,
            "\nThis document was carried over from a parent commons with its history; its earlier ids: {}.\n",
            credits.carried_from.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(", ")
        );
    }
    s.push_str("\n## Credits\n\n");
    s.push_str(
        "Counted from the signed changes and the text itself; characters are UTF-16 units.\n\n",
    );
    s.push_str("| Author | Key | Changes | Characters in this text | Characters written | Characters deleted | Comments |\n");
    s.push_str("|---|---|---:|---:|---:|---:|---:|\n");
    for a in &credits.authors {
        let _ = writeln!(
            s,
            "| {} | `{}` | {} | {} | {} | {} | {} |",
            name_cell(a.name.as_deref()),
            a.author,
            a.changes,
            a.text.surviving,
            a.text.inserted,
            a.text.deleted,
            a.comments
        );
    }
    if credits.unattributed > 0 {
        let _ = writeln!(
            s,
            "\n{} characters were typed on the exporting device and not yet signed.",
            credits.unattributed
        );
    }
    s
}

fn readme_md(
    c: &Commons,
    licence: &LicenceView,
    ledger: &Ledger,
    docs: &[(String, Credits)],
) -> String {
    let mut s = format!("# {}\n\n", one_line(&c.title()));
    if let Some(ch) = c.genesis_charter() {
        if !ch.purpose.is_empty() {
            let _ = write!(s, "{}\n\n", ch.purpose);
        }
    }
    let _ = writeln!(s, "Licence: {}\n", licence_sentence(licence));
    if let Some(f) = c.genesis_charter().and_then(|ch| ch.fork_of.as_ref()) {
        let heads: Vec<String> = f
            .heads
            .iter()
            .map(|h| format!("`{}`", h.to_hex()))
            .collect();
        let _ = writeln!(
            s,
            "This commons is a fork of the commons `{}`, from its state at {}.\n",
            f.commons.to_hex(),
            heads.join(", ")
        );
    }
    let _ = writeln!(s, "- Commons id: `{}`", c.id().to_hex());
    let _ = writeln!(s, "- State hash: `{}`", c.state_hash_hex());
    let _ = writeln!(s, "- Changes: {}", c.len());
    let _ = writeln!(s, "- Participants: {}\n", ledger.totals.participants);
    s.push_str("## Documents\n\n");
    for (path, cr) in docs {
        let _ = writeln!(
            s,
            "- {} — `{}` ({} characters; authors: {})",
            one_line(&cr.title),
            path,
            cr.length,
            cr.authors.len()
        );
    }
    s.push_str("\nSee LICENCE.md for the terms, CREDITS.md for everyone's contributions, and ledger.csv / ledger.json for the full ledger.\n");
    s
}

fn licence_md(c: &Commons, licence: &LicenceView) -> String {
    let mut s = String::from("# Licence\n\n");
    let _ = write!(
        s,
        "The commons \"{}\" (`{}`) and every document in it are released under the {}.\n\n",
        one_line(&c.title()),
        c.id().to_hex(),
        if licence.known {
            format!("{} ({})", licence.name, licence.spdx)
        } else {
            format!("licence with SPDX id {}", licence.spdx)
        }
    );
    let _ = write!(s, "{}\n\n", licence.meaning);
    if licence.share_alike {
        s.push_str("This licence is share-alike: adaptations and forks must keep it.\n\n");
    }
    s.push_str("Authors are credited in CREDITS.md and at the end of each document. Every contribution was signed with its author's key; the portable archive of this commons lets anyone verify who wrote what.\n");
    s
}

fn credits_md(ledger: &Ledger) -> String {
    let mut s = String::from("# Credits\n\nEveryone who contributed to this commons, from the signed record. Shares are in percent; docs/ACCOUNTING.md of peer-commons defines each column.\n\n");
    s.push_str("| Author | Key | Changes | Carried | Characters in the text | Text share | Comments | Tasks done | Endorsements given | Proposals and votes | Contribution share |\n");
    s.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for r in &ledger.rows {
        let _ = writeln!(
            s,
            "| {} | `{}` | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            name_cell(r.name.as_deref()),
            r.author,
            r.changes,
            r.carried_changes,
            r.surviving,
            percent(r.text_share_ppm),
            r.comments,
            r.tasks_completed,
            r.endorsements_given,
            r.proposals + r.votes,
            percent(r.contribution_share_ppm)
        );
    }
    s
}

fn licence_sentence(l: &LicenceView) -> String {
    format!("{} ({}). {}", l.name, l.spdx, l.meaning)
}

/// A share in parts per million as a percentage with four decimals, exactly.
pub fn percent(ppm: u64) -> String {
    format!("{}.{:04}%", ppm / 10_000, ppm % 10_000)
}

/// A claimed name as a table cell: a code span (never a link), without backticks or breaks.
fn name_cell(name: Option<&str>) -> String {
    match name {
        Some(n) if !n.trim().is_empty() => {
            let clean: String = one_line(n)
                .chars()
                .map(|ch| if ch == '`' { '\'' } else { ch })
                .collect();
            format!("`{}`", clean.replace('|', "\\|"))
        }
        _ => "(no name given)".to_string(),
    }
}

fn who(key: &str, name: Option<&str>) -> String {
    match name {
        Some(n) => format!("{} (`{}`)", name_cell(Some(n)), &key[..8.min(key.len())]),
        None => format!("`{}`", &key[..8.min(key.len())]),
    }
}

/// Text on one line: control characters and line breaks become spaces.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A file-name-safe slug: lowercase ASCII letters and digits, dashes between words, at most 48
/// characters ("document" when nothing is left).
pub fn slug(s: &str) -> String {
    let mut out = String::new();
    for ch in s.chars() {
        if ch.is_ascii_alphanumeric() {
            out.push(ch.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
        if out.len() >= 48 {
            break;
        }
    }
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() {
        "document".to_string()
    } else {
        out
    }
}
