//! Reading a roster file: bytes → header → one [`ParsedLine`] per record.

use super::{ImportProgress, ImportStage, RosterError};
use gatehouse_domain::roster::{Header, ParsedLine, RosterRow};

/// Report reading progress every this many records.
const PROGRESS_EVERY: usize = 5_000;

/// Line numbers as an editor shows them, from byte offsets that only grow. (The csv crate's
/// own line count is one short after a CRLF line end.)
struct Lines<'a> {
    text: &'a [u8],
    counted_to: usize,
    line: u64,
}

impl Lines<'_> {
    /// The line of the first character at or after `byte` that is not a line break.
    fn at(&mut self, byte: u64) -> u64 {
        let mut start = usize::try_from(byte).unwrap_or(usize::MAX).min(self.text.len());
        while start < self.text.len() && matches!(self.text[start], b'\r' | b'\n') {
            start += 1;
        }
        if start > self.counted_to {
            self.line += self.text[self.counted_to..start].iter().filter(|b| **b == b'\n').count() as u64;
            self.counted_to = start;
        }
        self.line
    }
}

/// The data lines of a file, each checked on its own.
#[derive(Debug)]
pub(crate) struct RosterFile {
    pub lines: Vec<ParsedLine>,
}

/// Decodes and parses a roster file. Refuses the whole file when it is empty, is not UTF-8
/// (naming the first bad line), or its header is not a roster header. A UTF-8 byte-order mark
/// (Excel's "CSV UTF-8") is skipped; lines whose values are all blank (Excel's trailing
/// `,,,,`) are ignored.
pub(crate) fn read(bytes: &[u8], progress: &(dyn Fn(ImportProgress) + Send + Sync)) -> Result<RosterFile, RosterError> {
    if bytes.is_empty() {
        return Err(RosterError::Empty);
    }
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(body).map_err(|e| RosterError::NotUtf8 {
        line: 1 + body[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count() as u64,
    })?;
    let total = bytes.len() as u64;
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    let mut header: Option<Header> = None;
    let mut lines = Vec::new();
    let mut record = csv::StringRecord::new();
    let mut numbering = Lines { text: text.as_bytes(), counted_to: 0, line: 1 };
    loop {
        let at = reader.position().byte();
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = numbering.at(e.position().map_or(at, csv::Position::byte));
                return Err(RosterError::Malformed { line });
            }
        }
        let line = numbering.at(record.position().map_or(at, csv::Position::byte));
        let fields: Vec<&str> = record.iter().collect();
        if fields.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let Some(h) = &header else {
            header = Some(Header::parse(&fields)?);
            continue;
        };
        lines.push(ParsedLine {
            line,
            provider_id_text: RosterRow::provider_id_text(h, &fields),
            row: RosterRow::parse(h, &fields),
        });
        if lines.len() % PROGRESS_EVERY == 0 {
            progress(ImportProgress { stage: ImportStage::Reading, done: reader.position().byte(), total });
        }
    }
    if header.is_none() {
        return Err(RosterError::Empty);
    }
    if lines.is_empty() {
        return Err(RosterError::NoRows);
    }
    progress(ImportProgress { stage: ImportStage::Reading, done: total, total });
    Ok(RosterFile { lines })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quiet(_: ImportProgress) {}

    const HEADER: &str = "provider_id,npi,type,first_name,last_name,organization_name,tax_id,practice_name,\
                          address1,city,state,zip";

    #[test]
    fn empty_files_are_refused() {
        assert!(matches!(read(b"", &quiet), Err(RosterError::Empty)));
        assert!(matches!(read(b"\n\n", &quiet), Err(RosterError::Empty)));
        assert!(matches!(read(format!("{HEADER}\n,,,\n").as_bytes(), &quiet), Err(RosterError::NoRows)));
    }

    #[test]
    fn non_utf8_names_its_line() {
        let mut bytes = format!("{HEADER}\nP1,1234567893\n").into_bytes();
        bytes.extend_from_slice(b"P2,Mu\xF1oz\n");
        match read(&bytes, &quiet) {
            Err(RosterError::NotUtf8 { line }) => assert_eq!(line, 3),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn lines_are_numbered_as_in_an_editor() {
        let csv = format!(
            "\u{feff}{HEADER}\n\
             P1,1234567893,practitioner,Ana,Ruiz,,825671892,\"Ruiz, Lee & Associates\",\"1 Main St\nSte 2\",Seattle,WA,98101\n\
             ,,,,,,,,,,,\n\
             P2,123,practitioner,Ana,Ruiz,,825671892,X,1 Main St,Seattle,WA,98101\n"
        );
        let file = read(csv.as_bytes(), &quiet).unwrap();
        assert_eq!(file.lines.len(), 2);
        assert_eq!(file.lines[0].line, 2);
        let row = file.lines[0].row.as_ref().unwrap();
        assert_eq!(row.practice_name(), "Ruiz, Lee & Associates");
        assert_eq!(row.address1(), "1 Main St Ste 2");
        assert_eq!(file.lines[1].line, 5);
        assert_eq!(file.lines[1].provider_id_text.as_deref(), Some("P2"));
        assert!(file.lines[1].row.is_err());
    }

    #[test]
    fn windows_line_endings_read_the_same() {
        let rec = "P1,1234567893,practitioner,Ana,Ruiz,,825671892,X,1 Main St,Seattle,WA,98101";
        let csv = format!("{HEADER}\r\n{rec}\r\n\r\n{}\r\n", rec.replace("P1", "P2"));
        let file = read(csv.as_bytes(), &quiet).unwrap();
        assert_eq!(file.lines.iter().map(|l| l.line).collect::<Vec<_>>(), vec![2, 4]);
        assert_eq!(file.lines[0].row.as_ref().unwrap().zip().as_str(), "98101");
    }

    #[test]
    fn a_bad_header_refuses_the_file() {
        match read(b"provider_id,npi,colour\nP1,1,red\n", &quiet) {
            Err(RosterError::Header(e)) => {
                assert!(e.unknown.contains(&"colour".to_owned()));
                assert!(!e.missing.is_empty());
            }
            other => panic!("{other:?}"),
        }
    }
}
