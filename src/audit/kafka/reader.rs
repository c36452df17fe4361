//! Tails the hash-chained log files from a chain position, across rotations, handing out
//! only lines that are durable. Read-only: it never opens a log file for writing.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::audit::verify::log_files;

/// One line of the log, as shipped.
#[derive(Debug)]
pub(super) struct Line {
    pub(super) seq: u64,
    pub(super) id: String,
    pub(super) bytes: Vec<u8>,
}

#[derive(Deserialize)]
pub(super) struct LineHead {
    pub(super) id: String,
    pub(super) sqlgateseq: u64,
    pub(super) sqlgatehash: String,
}

/// A found record (for matching the topic's end against the files).
pub(super) struct Found {
    pub(super) seq: u64,
    pub(super) hash: String,
}

/// The first record with `sqlgateseq >= seq` in the log files, if any.
pub(super) fn find(base: &Path, seq: u64) -> std::io::Result<Option<Found>> {
    let mut r = Reader::locate(base.to_path_buf(), seq);
    // Every line the files hold counts here, durable or not: this only compares hashes.
    while let Some((head, _)) = r.next_raw()? {
        if head.sqlgateseq >= seq {
            return Ok(Some(Found {
                seq: head.sqlgateseq,
                hash: head.sqlgatehash,
            }));
        }
    }
    Ok(None)
}

/// Tails the log files from a chain position, across rotations.
pub(super) struct Reader {
    base: PathBuf,
    file: Option<File>,
    /// Offset of the first unconsumed byte of `file`.
    pos: u64,
    /// Bytes read ahead from `pos`; dropped when they belong to records not yet durable.
    buf: Vec<u8>,
    /// The record to ship next; lines before it are skipped.
    pub(super) next_seq: u64,
}

impl Reader {
    /// A reader whose next line is the record `seq` (or the first after it that exists).
    pub(super) fn locate(base: PathBuf, seq: u64) -> Self {
        let file = file_holding(&base, seq).and_then(|p| File::open(p).ok());
        Self {
            base,
            file,
            pos: 0,
            buf: Vec::new(),
            next_seq: seq,
        }
    }

    /// The next line with `sqlgateseq <= durable`, if the files hold one yet.
    pub(super) fn next(&mut self, durable: u64) -> std::io::Result<Option<Line>> {
        if self.next_seq > durable {
            return Ok(None);
        }
        loop {
            let Some((head, bytes)) = self.next_raw()? else {
                return Ok(None);
            };
            if head.sqlgateseq > durable {
                // Written but not yet fsynced (and a failed write is rolled back): read it
                // again once it is durable.
                self.unread(bytes.len());
                return Ok(None);
            }
            if head.sqlgateseq < self.next_seq {
                continue;
            }
            if head.sqlgateseq > self.next_seq {
                tracing::warn!(target: "sqlgate::audit",
                    "records {}..{} are not in the retained audit files; the Kafka copy has a gap",
                    self.next_seq, head.sqlgateseq - 1);
            }
            self.next_seq = head.sqlgateseq + 1;
            return Ok(Some(Line {
                seq: head.sqlgateseq,
                id: head.id,
                bytes,
            }));
        }
    }

    /// The next complete line and its head, following rotation at the end of a file.
    fn next_raw(&mut self) -> std::io::Result<Option<(LineHead, Vec<u8>)>> {
        loop {
            if let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
                let bytes: Vec<u8> = self.buf.drain(..=i).take(i).collect();
                self.pos += i as u64 + 1;
                match serde_json::from_slice::<LineHead>(&bytes) {
                    Ok(head) => return Ok(Some((head, bytes))),
                    Err(e) => {
                        tracing::error!(target: "sqlgate::audit", "skipping an unreadable audit line before record {} ({e}); run `sqlgate audit verify`", self.next_seq);
                        continue;
                    }
                }
            }
            if self.fill()? > 0 {
                continue;
            }
            // End of this file with no complete line: the record may be in the next file.
            if !self.buf.is_empty() || !self.relocate()? {
                return Ok(None);
            }
        }
    }

    /// Gives back the last line consumed (`len` bytes plus its `\n`).
    fn unread(&mut self, len: usize) {
        self.pos -= len as u64 + 1;
        self.buf.clear();
    }

    fn fill(&mut self) -> std::io::Result<usize> {
        let Some(file) = self.file.as_mut() else {
            return Ok(0);
        };
        file.seek(SeekFrom::Start(self.pos + self.buf.len() as u64))?;
        let mut chunk = vec![0u8; 64 * 1024];
        let n = file.read(&mut chunk)?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Switches to the file that holds `next_seq` if that is another file; `false` if not.
    fn relocate(&mut self) -> std::io::Result<bool> {
        let Some(path) = file_holding(&self.base, self.next_seq) else {
            return Ok(false);
        };
        let candidate = File::open(&path)?;
        if let Some(current) = &self.file {
            let (a, b) = (current.metadata()?, candidate.metadata()?);
            if a.dev() == b.dev() && a.ino() == b.ino() {
                return Ok(false);
            }
        }
        self.file = Some(candidate);
        self.pos = 0;
        self.buf.clear();
        Ok(true)
    }
}

/// The last log file whose first record is at or before `seq` (else the first one with a
/// record: anything older is gone); the active file when none has a record yet.
fn file_holding(base: &Path, seq: u64) -> Option<PathBuf> {
    let mut chosen: Option<PathBuf> = None;
    for path in log_files(base) {
        match first_seq(&path) {
            Some(first) if first <= seq || chosen.is_none() => chosen = Some(path),
            Some(_) => break,
            None => {}
        }
    }
    chosen.or_else(|| base.is_file().then(|| base.to_path_buf()))
}

fn first_seq(path: &Path) -> Option<u64> {
    let mut line = Vec::new();
    BufReader::new(File::open(path).ok()?)
        .read_until(b'\n', &mut line)
        .ok()?;
    if line.last() != Some(&b'\n') {
        return None;
    }
    serde_json::from_slice::<LineHead>(&line)
        .ok()
        .map(|h| h.sqlgateseq)
}
