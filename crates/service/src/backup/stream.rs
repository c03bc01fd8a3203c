//! A segment's entries in chunks. Its parts (one per chain, each written in
//! `seq` order by the shipper and by merges) are decrypted first; their lines
//! are then decompressed and parsed as they are read, merged by `seq` and
//! handed on in chunks as they come, so a restore applies the first entries
//! while the rest of a large segment is still being decompressed and parsed.

use valv_backup_format::PartStream;
use valv_store::{EntryImage, JournalEntry, ReplayEntry, ShippedEntry};

use super::internal;
use crate::ServiceResult;

/// Entries per chunk: few enough that the store starts writing soon after a
/// segment is opened.
const CHUNK: usize = 128;

/// Where a part's lines come from.
pub(crate) trait Lines {
    /// The next line (without its `\n`), or `None` at the end.
    fn next_line(&mut self) -> ServiceResult<Option<Vec<u8>>>;
}

impl Lines for PartStream {
    fn next_line(&mut self) -> ServiceResult<Option<Vec<u8>>> {
        PartStream::next_line(self).map_err(internal)
    }
}

/// A chunk's entries decoded for the store; a chunk with an undecodable entry is refused whole.
pub(crate) fn decode(chunk: Vec<EntryImage>) -> ServiceResult<Vec<ReplayEntry>> {
    chunk.into_iter().map(|e| Ok(ReplayEntry::decode(JournalEntry::from(e))?)).collect()
}

/// Hands the parts' entries to `out` in chunks, merged by `seq`; stops early
/// when `out` answers false (nobody reads any more). A part out of `seq`
/// order is refused: applied as it stands, its entries would be skipped as
/// already held.
pub(crate) fn merge(mut lines: Vec<impl Lines>, mut out: impl FnMut(Vec<EntryImage>) -> bool) -> ServiceResult<()> {
    let mut heads = lines.iter_mut().map(next).collect::<ServiceResult<Vec<_>>>()?;
    let (mut chunk, mut last) = (Vec::with_capacity(CHUNK), None);
    while let Some(i) =
        (0..heads.len()).filter(|i| heads[*i].is_some()).min_by_key(|i| heads[*i].as_ref().map(|e| e.seq))
    {
        let Some(e) = heads[i].take() else { break };
        if last.is_some_and(|l| e.seq <= l) {
            return Err(crate::ServiceError::internal_msg(format!(
                "a segment's entries are out of order at {}",
                e.seq
            )));
        }
        last = Some(e.seq);
        heads[i] = next(&mut lines[i])?;
        chunk.push(e);
        if chunk.len() == CHUNK && !out(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK))) {
            return Ok(());
        }
    }
    if !chunk.is_empty() {
        out(chunk);
    }
    Ok(())
}

/// The next entry of a part; empty lines are passed over.
fn next(lines: &mut impl Lines) -> ServiceResult<Option<EntryImage>> {
    loop {
        match lines.next_line()? {
            Some(l) if l.is_empty() => {}
            Some(l) => return Ok(Some(serde_json::from_slice::<ShippedEntry>(&l).map_err(internal)?.0)),
            None => return Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn entry(seq: u64) -> EntryImage {
        EntryImage {
            seq,
            chain: "c".into(),
            chain_seq: seq,
            at: "2026-11-24T10:00:00Z".into(),
            actor: "cli".into(),
            action: "record.created".into(),
            entity: "record".into(),
            entity_id: seq.to_string(),
            payload: Some(format!("{{\"n\":{seq}}}")),
            payload_hash: "a".into(),
            prev_hash: "b".into(),
            hash: "c".into(),
        }
    }

    fn part(seqs: &[u64]) -> Vec<u8> {
        seqs.iter()
            .flat_map(|s| serde_json::to_vec(&ShippedEntry(entry(*s))).unwrap().into_iter().chain([b'\n']))
            .collect()
    }

    /// A part's bytes, line by line.
    impl Lines for std::vec::IntoIter<Vec<u8>> {
        fn next_line(&mut self) -> ServiceResult<Option<Vec<u8>>> {
            Ok(self.next())
        }
    }

    fn collect(parts: &[Vec<u8>]) -> ServiceResult<Vec<Vec<EntryImage>>> {
        let lines = parts.iter().map(|p| p.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect::<Vec<_>>().into_iter());
        let mut chunks = Vec::new();
        merge(lines.collect(), |c| {
            chunks.push(c);
            true
        })?;
        Ok(chunks)
    }

    #[test]
    fn a_part_out_of_order_is_refused() {
        assert!(collect(&[part(&[1, 3, 2])]).is_err());
        assert!(collect(&[part(&[1, 2]), part(&[2, 3])]).is_err(), "one seq in two parts");
        assert!(collect(&[b"{not json\n".to_vec()]).is_err());
    }

    proptest! {
        /// Any split of increasing entries into parts comes back as one
        /// increasing stream, every entry once, in chunks of at most CHUNK.
        #[test]
        fn parts_merge_into_one_ordered_stream(
            owners in proptest::collection::vec(0usize..4, 0..700),
            gaps in proptest::collection::vec(1u64..4, 700),
        ) {
            let mut seq = 0;
            let mut by_part = vec![Vec::new(); 4];
            for (owner, gap) in owners.iter().zip(&gaps) {
                seq += gap;
                by_part[*owner].push(seq);
            }
            let parts: Vec<Vec<u8>> = by_part.iter().map(|p| part(p)).collect();
            let chunks = collect(&parts).unwrap();
            prop_assert!(chunks.iter().all(|c| !c.is_empty() && c.len() <= CHUNK));
            let got: Vec<u64> = chunks.iter().flatten().map(|e| e.seq).collect();
            let mut want: Vec<u64> = by_part.concat();
            want.sort_unstable();
            prop_assert_eq!(&got, &want);
            prop_assert_eq!(chunks.iter().flatten().cloned().collect::<Vec<_>>(), want.iter().map(|s| entry(*s)).collect::<Vec<_>>());
        }
    }
}
