//! A consistent copy of the whole store as one stream of rows (a *dump*), and a fresh store made
//! from one: what backups and restores are built on.
//!
//! [`Store::snapshot`](crate::Store::snapshot) begins one read transaction. redb's MVCC shows
//! it the store as of the last commit before it while the writer goes on committing: a read
//! transaction blocks no writer (the pages it sees are kept until it ends, so the file may grow
//! while a long dump runs). Every notification acknowledged before the snapshot began is in it.
//! [`Snapshot::write_to`] writes every table of that transaction ([`tables::visit_all`]):
//!
//! ```text
//! "NOTIFY-DUMP\n"  u32 header length, header (a codec record: DumpHeader)
//! chunk*           u32 raw length, u32 compressed length, u32 CRC-32 of the compressed
//!                  bytes, an lz4 block  (raw length 0: the end)
//! ```
//!
//! The chunks, decompressed and joined, are records (integers little-endian):
//! `T` u16 length, name — a table begins; `R` u32 length, key, u32 length, value — a row, in
//! redb's own encoding of the table's key and value types; `E` u64 rows — the table ends;
//! `Z` u32 tables, u64 rows — the dump ends. Rows come in key order, so [`load`] appends to each
//! tree. A dump cut short has no `Z`, and [`load`] refuses it.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;

use redb::{
    Database, Durability, ReadTransaction, ReadableTable, TableDefinition, TableHandle,
    WriteTransaction,
};
use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};
use crate::tables::{self, META, RecordCheck, TableVisitor};

/// The first bytes of every dump.
pub const MAGIC: &[u8; 12] = b"NOTIFY-DUMP\n";
/// The dump format this binary writes and reads.
pub const FORMAT: u32 = 1;
/// Uncompressed bytes per chunk.
const CHUNK: usize = 1 << 20;
/// Largest chunk a reader accepts (a damaged length must not allocate gigabytes).
const MAX_CHUNK: usize = 64 << 20;
/// Bytes of rows [`load`] puts in one write transaction before committing it: bounds the
/// memory of a restore (redb keeps a transaction's dirty pages until it commits).
const LOAD_TXN_BYTES: usize = 64 << 20;

/// What a dump says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DumpHeader {
    pub format: u32,
    /// The store's schema version ([`crate::migrations`]): a restore into a newer binary
    /// migrates it when the store is first opened.
    pub schema_version: u32,
    /// When the snapshot's read transaction began (the store's clock, µs since the epoch).
    pub taken_at_micros: i64,
    /// The store-wide sequence of its last commit.
    pub committed_seq: u64,
}

/// Rows per table of a dump (or of a check walk).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DumpSummary {
    pub tables: BTreeMap<String, u64>,
    pub rows: u64,
}

/// One read transaction over the whole store; see the module notes.
pub struct Snapshot {
    pub(crate) txn: ReadTransaction,
    header: DumpHeader,
}

impl Snapshot {
    pub(crate) fn new(txn: ReadTransaction, taken_at_micros: i64) -> Result<Snapshot> {
        let (schema_version, committed_seq) = {
            let meta = txn.open_table(META)?;
            let le = |key: &str, width: usize| -> Result<u64> {
                Ok(meta
                    .get(key)?
                    .and_then(|v| {
                        let mut b = [0u8; 8];
                        let bytes = v.value();
                        (bytes.len() >= width).then(|| {
                            b[..width].copy_from_slice(&bytes[..width]);
                            u64::from_le_bytes(b)
                        })
                    })
                    .unwrap_or(0))
            };
            (
                le(crate::migrations::SCHEMA_KEY, 4)? as u32,
                le(crate::writer::SEQ_KEY, 8)?,
            )
        };
        Ok(Snapshot {
            txn,
            header: DumpHeader {
                format: FORMAT,
                schema_version,
                taken_at_micros,
                committed_seq,
            },
        })
    }

    pub fn header(&self) -> &DumpHeader {
        &self.header
    }

    /// Every row of `table`, decoded as `T`, in key order.
    pub fn for_each<K: redb::Key + 'static, T: serde::de::DeserializeOwned>(
        &self,
        table: TableDefinition<'static, K, &'static [u8]>,
        mut f: impl FnMut(T),
    ) -> Result<()> {
        for row in self.txn.open_table(table)?.iter()? {
            f(crate::codec::decode(row?.1.value())?);
        }
        Ok(())
    }

    /// Write the whole snapshot as a dump to `out`. Refuses a store holding a table the dump
    /// would leave out.
    pub fn write_to<W: Write>(&self, out: W) -> Result<DumpSummary> {
        let known = tables::all_names();
        for t in self.txn.list_tables()? {
            if !known.iter().any(|k| k == t.name()) {
                return Err(StoreError::Invalid(format!(
                    "the store has a table {:?} that backups do not know (add it to tables::visit_all)",
                    t.name()
                )));
            }
        }
        let mut dump = Dumper {
            txn: &self.txn,
            out: ChunkWriter::new(out, &self.header)?,
            summary: DumpSummary::default(),
        };
        tables::visit_all(&mut dump)?;
        let Dumper {
            mut out, summary, ..
        } = dump;
        out.record_end(summary.tables.len() as u32, summary.rows)?;
        out.finish()?;
        Ok(summary)
    }
}

struct Dumper<'t, W: Write> {
    txn: &'t ReadTransaction,
    out: ChunkWriter<W>,
    summary: DumpSummary,
}

impl<W: Write> TableVisitor for Dumper<'_, W> {
    fn visit<K: redb::Key + 'static, V: redb::Value + 'static>(
        &mut self,
        table: TableDefinition<'static, K, V>,
        _: Option<RecordCheck>,
    ) -> Result<()> {
        let name = table.name().to_string();
        self.out.table_start(&name)?;
        let mut rows = 0u64;
        match self.txn.open_table(table) {
            Ok(t) => {
                for row in t.iter()? {
                    let (k, v) = row?;
                    self.out.row(
                        K::as_bytes(&k.value()).as_ref(),
                        V::as_bytes(&v.value()).as_ref(),
                    )?;
                    rows += 1;
                }
            }
            // A store from before this table existed: an empty table.
            Err(redb::TableError::TableDoesNotExist(_)) => {}
            Err(e) => return Err(e.into()),
        }
        self.out.table_end(rows)?;
        self.summary.tables.insert(name, rows);
        self.summary.rows += rows;
        Ok(())
    }
}

/// The chunked, compressed record stream of a dump.
struct ChunkWriter<W: Write> {
    out: W,
    buf: Vec<u8>,
}

impl<W: Write> ChunkWriter<W> {
    fn new(mut out: W, header: &DumpHeader) -> Result<Self> {
        let header = crate::codec::encode(header);
        out.write_all(MAGIC)?;
        out.write_all(&(header.len() as u32).to_le_bytes())?;
        out.write_all(&header)?;
        Ok(ChunkWriter {
            out,
            buf: Vec::with_capacity(CHUNK + 1024),
        })
    }

    fn table_start(&mut self, name: &str) -> Result<()> {
        self.buf.push(b'T');
        self.buf
            .extend_from_slice(&(name.len() as u16).to_le_bytes());
        self.buf.extend_from_slice(name.as_bytes());
        self.maybe_flush()
    }

    fn row(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.buf.push(b'R');
        self.buf
            .extend_from_slice(&(key.len() as u32).to_le_bytes());
        self.buf.extend_from_slice(key);
        self.buf
            .extend_from_slice(&(value.len() as u32).to_le_bytes());
        self.buf.extend_from_slice(value);
        self.maybe_flush()
    }

    fn table_end(&mut self, rows: u64) -> Result<()> {
        self.buf.push(b'E');
        self.buf.extend_from_slice(&rows.to_le_bytes());
        self.maybe_flush()
    }

    fn record_end(&mut self, tables: u32, rows: u64) -> Result<()> {
        self.buf.push(b'Z');
        self.buf.extend_from_slice(&tables.to_le_bytes());
        self.buf.extend_from_slice(&rows.to_le_bytes());
        Ok(())
    }

    fn maybe_flush(&mut self) -> Result<()> {
        if self.buf.len() >= CHUNK {
            self.flush_chunk()?;
        }
        Ok(())
    }

    fn flush_chunk(&mut self) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let compressed = lz4_flex::block::compress(&self.buf);
        self.out.write_all(&(self.buf.len() as u32).to_le_bytes())?;
        self.out
            .write_all(&(compressed.len() as u32).to_le_bytes())?;
        self.out
            .write_all(&crc32fast::hash(&compressed).to_le_bytes())?;
        self.out.write_all(&compressed)?;
        self.buf.clear();
        Ok(())
    }

    fn finish(mut self) -> Result<W> {
        self.flush_chunk()?;
        self.out.write_all(&[0u8; 12])?;
        self.out.flush()?;
        Ok(self.out)
    }
}

fn damaged(what: impl std::fmt::Display) -> StoreError {
    StoreError::Invalid(format!("the dump is damaged or incomplete: {what}"))
}

/// Reads a dump's records back, a chunk at a time.
pub struct DumpReader<R: Read> {
    input: R,
    header: DumpHeader,
    chunk: Vec<u8>,
    at: usize,
    ended: bool,
}

/// One record of a dump.
enum Record<'a> {
    Table(String),
    Row(&'a [u8], &'a [u8]),
    TableEnd(u64),
    End { tables: u32, rows: u64 },
}

impl<R: Read> DumpReader<R> {
    /// Read and check the magic and the header.
    pub fn new(mut input: R) -> Result<Self> {
        let mut magic = [0u8; 12];
        input
            .read_exact(&mut magic)
            .map_err(|e| damaged(format!("no header ({e})")))?;
        if &magic != MAGIC {
            return Err(StoreError::Invalid("not a notify dump".into()));
        }
        let len = read_u32(&mut input)? as usize;
        if len > 4096 {
            return Err(damaged("header too long"));
        }
        let mut header = vec![0u8; len];
        input.read_exact(&mut header).map_err(damaged)?;
        let header: DumpHeader = crate::codec::decode(&header)?;
        if header.format != FORMAT {
            return Err(StoreError::Invalid(format!(
                "dump format {} is not supported by this binary (it reads {FORMAT})",
                header.format
            )));
        }
        Ok(DumpReader {
            input,
            header,
            chunk: Vec::new(),
            at: 0,
            ended: false,
        })
    }

    pub fn header(&self) -> &DumpHeader {
        &self.header
    }

    /// Make sure `n` bytes of the record stream are buffered from the current position,
    /// reading chunks as needed (a record may span chunks; the unread tail is carried over).
    fn ensure(&mut self, n: usize) -> Result<()> {
        while self.chunk.len() - self.at < n {
            if self.ended {
                return Err(damaged("it ends in the middle of a record"));
            }
            let raw = read_u32(&mut self.input)? as usize;
            let compressed = read_u32(&mut self.input)? as usize;
            let crc = read_u32(&mut self.input)?;
            if raw == 0 {
                self.ended = true;
                continue;
            }
            if raw > MAX_CHUNK || compressed > MAX_CHUNK {
                return Err(damaged("a chunk is too large"));
            }
            let mut packed = vec![0u8; compressed];
            self.input.read_exact(&mut packed).map_err(damaged)?;
            if crc32fast::hash(&packed) != crc {
                return Err(damaged("a chunk's checksum does not match"));
            }
            let mut rest = self.chunk.split_off(self.at);
            let start = rest.len();
            rest.resize(start + raw, 0);
            let got =
                lz4_flex::block::decompress_into(&packed, &mut rest[start..]).map_err(damaged)?;
            if got != raw {
                return Err(damaged("a chunk decompresses to the wrong length"));
            }
            self.chunk = rest;
            self.at = 0;
        }
        Ok(())
    }

    /// After the end record: the end marker, then nothing.
    fn finish(mut self) -> Result<()> {
        if self.chunk.len() > self.at {
            return Err(damaged("records follow its end"));
        }
        if !self.ended {
            let raw = read_u32(&mut self.input)?;
            let compressed = read_u32(&mut self.input)?;
            let crc = read_u32(&mut self.input)?;
            if (raw, compressed, crc) != (0, 0, 0) {
                return Err(damaged("records follow its end"));
            }
        }
        let mut more = [0u8; 1];
        match self.input.read(&mut more) {
            Ok(0) => Ok(()),
            Ok(_) => Err(damaged("bytes follow its end")),
            Err(e) => Err(damaged(e)),
        }
    }

    /// `len` buffered bytes, `offset` bytes after the current position.
    fn peek(&self, offset: usize, len: usize) -> &[u8] {
        &self.chunk[self.at + offset..self.at + offset + len]
    }

    fn peek_u32(&self, offset: usize) -> usize {
        u32::from_le_bytes(self.peek(offset, 4).try_into().expect("4 bytes")) as usize
    }

    fn peek_u64(&self, offset: usize) -> u64 {
        u64::from_le_bytes(self.peek(offset, 8).try_into().expect("8 bytes"))
    }

    fn next(&mut self) -> Result<Record<'_>> {
        self.ensure(1)?;
        let tag = self.peek(0, 1)[0];
        // Each arm buffers the whole record first, then reads it and moves past it.
        match tag {
            b'T' => {
                self.ensure(3)?;
                let len = u16::from_le_bytes(self.peek(1, 2).try_into().expect("2 bytes")) as usize;
                self.ensure(3 + len)?;
                let name = String::from_utf8(self.peek(3, len).to_vec()).map_err(damaged)?;
                self.at += 3 + len;
                Ok(Record::Table(name))
            }
            b'R' => {
                self.ensure(5)?;
                let klen = self.peek_u32(1);
                self.ensure(9 + klen)?;
                let vlen = self.peek_u32(5 + klen);
                self.ensure(9 + klen + vlen)?;
                let at = self.at;
                self.at += 9 + klen + vlen;
                Ok(Record::Row(
                    &self.chunk[at + 5..at + 5 + klen],
                    &self.chunk[at + 9 + klen..at + 9 + klen + vlen],
                ))
            }
            b'E' => {
                self.ensure(9)?;
                let rows = self.peek_u64(1);
                self.at += 9;
                Ok(Record::TableEnd(rows))
            }
            b'Z' => {
                self.ensure(13)?;
                let tables = self.peek_u32(1) as u32;
                let rows = self.peek_u64(5);
                self.at += 13;
                Ok(Record::End { tables, rows })
            }
            other => Err(damaged(format!("unknown record tag {other}"))),
        }
    }
}

fn read_u32(input: &mut impl Read) -> Result<u32> {
    let mut b = [0u8; 4];
    input.read_exact(&mut b).map_err(damaged)?;
    Ok(u32::from_le_bytes(b))
}

/// Make a new store file at `path` (which must not exist) from the dump read from `input`.
/// Nothing is left at `path` when the dump is refused half-way.
pub fn load(input: impl Read, path: &Path) -> Result<(DumpHeader, DumpSummary)> {
    if path.exists() {
        return Err(StoreError::Invalid(format!(
            "{} already exists; a restore makes a new store",
            path.display()
        )));
    }
    crate::files::create_private_file(path)?;
    let loaded = load_into(input, path);
    if loaded.is_err() {
        let _ = std::fs::remove_file(path);
    }
    loaded
}

fn load_into(input: impl Read, path: &Path) -> Result<(DumpHeader, DumpSummary)> {
    let db = Database::builder().create(path)?;
    let tables = Registry::new();
    let mut reader = DumpReader::new(input)?;
    let header = reader.header().clone();
    let mut state = LoadState::default();
    loop {
        let mut txn = db.begin_write()?;
        txn.set_durability(Durability::None)?;
        if load_batch(&txn, &tables, &mut reader, &mut state)? {
            txn.set_durability(Durability::Immediate)?;
            txn.commit()?;
            break;
        }
        txn.commit()?;
    }
    // Nothing may follow the end record (the caller removes the file when this fails).
    reader.finish()?;
    drop(db);
    Ok((header, state.summary))
}

#[derive(Default)]
struct LoadState {
    /// The table being loaded, and its rows so far.
    table: Option<(String, u64)>,
    summary: DumpSummary,
}

/// Load records into `txn` until it holds [`LOAD_TXN_BYTES`] (false) or the dump ends (true).
fn load_batch<R: Read>(
    txn: &WriteTransaction,
    tables: &Registry,
    reader: &mut DumpReader<R>,
    state: &mut LoadState,
) -> Result<bool> {
    let mut open = match &state.table {
        Some((name, _)) => Some(tables.open(name, txn)?),
        None => None,
    };
    let mut bytes = 0usize;
    loop {
        match reader.next()? {
            Record::Table(name) => {
                if state.table.is_some() {
                    return Err(damaged(format!("table {name} begins inside another")));
                }
                open = Some(tables.open(&name, txn)?);
                state.table = Some((name, 0));
            }
            Record::Row(key, value) => {
                let (Some(table), Some((_, rows))) = (open.as_mut(), state.table.as_mut()) else {
                    return Err(damaged("a row outside any table"));
                };
                table.insert(key, value)?;
                *rows += 1;
                bytes += key.len() + value.len();
                if bytes >= LOAD_TXN_BYTES {
                    return Ok(false);
                }
            }
            Record::TableEnd(expected) => {
                let Some((name, rows)) = state.table.take() else {
                    return Err(damaged("a table ends that never began"));
                };
                if rows != expected {
                    return Err(damaged(format!(
                        "table {name} has {rows} rows, its end says {expected}"
                    )));
                }
                open = None;
                state.summary.rows += rows;
                state.summary.tables.insert(name, rows);
            }
            Record::End { tables: n, rows } => {
                if state.table.is_some()
                    || n as usize != state.summary.tables.len()
                    || rows != state.summary.rows
                {
                    return Err(damaged("its end does not match what it held"));
                }
                return Ok(true);
            }
        }
    }
}

/// Every table this binary knows, by name, for loading rows given as bytes.
struct Registry(BTreeMap<String, Box<dyn RawTable>>);

impl Registry {
    fn new() -> Registry {
        let mut registry = Registry(BTreeMap::new());
        let _ = tables::visit_all(&mut registry);
        registry
    }

    fn open<'t>(&self, name: &str, txn: &'t WriteTransaction) -> Result<Box<dyn RawRows + 't>> {
        let table = self.0.get(name).ok_or_else(|| {
            StoreError::Invalid(format!(
                "the dump has a table {name:?} this binary does not know (made by a newer notify?)"
            ))
        })?;
        table.open(txn)
    }
}

impl TableVisitor for Registry {
    fn visit<K: redb::Key + 'static, V: redb::Value + 'static>(
        &mut self,
        table: TableDefinition<'static, K, V>,
        _: Option<RecordCheck>,
    ) -> Result<()> {
        self.0
            .insert(table.name().to_string(), Box::new(Typed(table)));
        Ok(())
    }
}

/// A table whose rows are given as redb's bytes for its key and value types.
trait RawTable {
    fn open<'t>(&self, txn: &'t WriteTransaction) -> Result<Box<dyn RawRows + 't>>;
}

trait RawRows {
    fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<()>;
}

struct Typed<K: redb::Key + 'static, V: redb::Value + 'static>(TableDefinition<'static, K, V>);

impl<K: redb::Key + 'static, V: redb::Value + 'static> RawTable for Typed<K, V> {
    fn open<'t>(&self, txn: &'t WriteTransaction) -> Result<Box<dyn RawRows + 't>> {
        Ok(Box::new(txn.open_table(self.0)?))
    }
}

impl<K: redb::Key + 'static, V: redb::Value + 'static> RawRows for redb::Table<'_, K, V> {
    fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        redb::Table::insert(self, K::from_bytes(key), V::from_bytes(value))?;
        Ok(())
    }
}
