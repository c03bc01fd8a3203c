//! Which journal segments to merge. A quiet installation ships a segment
//! every few entries, so a day leaves thousands of small objects on each
//! target, and a restore pays for every object it lists, fetches and opens.
//! As Litestream does with its levels, consecutive small segments are merged
//! into larger ones in the background; this module decides which, as a pure
//! function of a target's listing, so property tests can check it.
//!
//! The rule is the one of log-structured merge trees: walking from the
//! oldest segment to the newest, two neighbouring groups merge when the
//! older holds at most [`FACTOR`] times what the newer holds and together
//! they stay within `max` entries. Group sizes then fall geometrically
//! towards the newest entries, so a target keeps a few objects per `max`
//! entries, and each entry is rewritten a logarithmic number of times.

/// How much larger than its newer neighbour a group may be and still merge with it.
pub const FACTOR: u64 = 2;

/// A merge to perform: one new segment for `first..=last`, replacing `inputs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merge {
    pub first: u64,
    pub last: u64,
    /// Indexes into the listing given to [`plan`]: every segment whose range
    /// lies within `first..=last`, including ones another segment already
    /// covers (left by a merge interrupted before it removed its inputs).
    pub inputs: Vec<usize>,
}

/// Consecutive segments that will become one.
struct Group {
    first: u64,
    last: u64,
    members: usize,
}

impl Group {
    fn size(&self) -> u64 {
        self.last - self.first + 1
    }
}

/// The merges that bring `segments` (`(first_seq, last_seq)` each, in any
/// order) to the layout the rule above asks for. Segments never merge across
/// a gap in the journal positions, and a segment of `max` entries or more is
/// never an input.
#[must_use]
pub fn plan(segments: &[(u64, u64)], max: u64) -> Vec<Merge> {
    let mut order: Vec<usize> = (0..segments.len()).filter(|&i| segments[i].0 <= segments[i].1).collect();
    order.sort_by_key(|&i| (segments[i].0, std::cmp::Reverse(segments[i].1)));
    let mut stack: Vec<Group> = Vec::new();
    let mut reached = 0;
    for &i in &order {
        let (first, last) = segments[i];
        if last <= reached && !stack.is_empty() {
            continue; // covered by a segment already placed
        }
        reached = last;
        stack.push(Group { first, last, members: 1 });
        while let [.., older, newer] = stack.as_slice()
            && older.last + 1 == newer.first
            && older.size() <= FACTOR * newer.size()
            && older.size() + newer.size() <= max
        {
            let newer = stack.pop().unwrap_or_else(|| unreachable!("two groups were just matched"));
            let older = stack.last_mut().unwrap_or_else(|| unreachable!("two groups were just matched"));
            older.last = newer.last;
            older.members += newer.members;
        }
    }
    stack
        .into_iter()
        .filter(|g| g.members > 1)
        .map(|g| Merge {
            first: g.first,
            last: g.last,
            inputs: order.iter().copied().filter(|&i| segments[i].0 >= g.first && segments[i].1 <= g.last).collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    /// The listing after the merges are done.
    fn apply(segments: &[(u64, u64)], merges: &[Merge]) -> Vec<(u64, u64)> {
        let gone: BTreeSet<usize> = merges.iter().flat_map(|m| m.inputs.iter().copied()).collect();
        let mut out: Vec<(u64, u64)> = (0..segments.len()).filter(|i| !gone.contains(i)).map(|i| segments[i]).collect();
        out.extend(merges.iter().map(|m| (m.first, m.last)));
        out.sort_unstable();
        out
    }

    fn positions(segments: &[(u64, u64)]) -> BTreeSet<u64> {
        segments.iter().flat_map(|&(a, b)| a..=b).collect()
    }

    #[test]
    fn small_segments_fold_into_few_and_a_full_one_is_left_alone() {
        let mut listing: Vec<(u64, u64)> = (0..64).map(|i| (5 * i + 1, 5 * i + 5)).collect();
        listing.push((321, 5320));
        let after = apply(&listing, &plan(&listing, 5_000));
        // 64 objects of 5 entries become a few, largest first.
        assert_eq!(after, [(1, 275), (276, 315), (316, 320), (321, 5320)]);
    }

    #[test]
    fn nothing_merges_across_a_gap() {
        let listing = [(1, 3), (4, 6), (10, 12), (13, 15)];
        assert_eq!(apply(&listing, &plan(&listing, 100)), [(1, 6), (10, 15)]);
    }

    #[test]
    fn leftovers_of_an_interrupted_merge_go_with_the_merge_that_covers_them() {
        let listing = [(1, 10), (1, 5), (6, 10), (11, 15)];
        let merges = plan(&listing, 100);
        assert_eq!(merges, [Merge { first: 1, last: 15, inputs: vec![0, 1, 2, 3] }]);
    }

    /// Segments cut from one journal, in a shuffled order, some overlapping.
    fn listing() -> impl Strategy<Value = Vec<(u64, u64)>> {
        proptest::collection::vec((1u64..40, any::<bool>(), any::<bool>()), 1..80).prop_map(|cuts| {
            let (mut out, mut first) = (Vec::new(), 1);
            for (len, gap, overlap) in cuts {
                if overlap && first > len {
                    out.push((first - len, first - 1 + len / 2));
                }
                out.push((first, first + len - 1));
                first += len + u64::from(gap && len % 7 == 0) * 3;
            }
            out.reverse();
            out
        })
    }

    proptest! {
        #[test]
        fn merges_keep_every_position_and_respect_the_limits(listing in listing(), max in 10u64..200) {
            let merges = plan(&listing, max);
            let after = apply(&listing, &merges);
            prop_assert_eq!(positions(&after), positions(&listing), "no position is lost or invented");
            let mut used = BTreeSet::new();
            for m in &merges {
                prop_assert!(m.inputs.len() >= 2);
                prop_assert!(m.last - m.first < max, "a merge stays within the limit");
                for &i in &m.inputs {
                    prop_assert!(used.insert(i), "segment {} in two merges", i);
                    prop_assert!(listing[i].0 >= m.first && listing[i].1 <= m.last);
                }
                let covered = positions(&m.inputs.iter().map(|&i| listing[i]).collect::<Vec<_>>());
                prop_assert_eq!(covered, (m.first..=m.last).collect::<BTreeSet<_>>(), "inputs fill the range");
            }
            prop_assert!(plan(&after, max).is_empty(), "the result is settled");
        }

        #[test]
        fn one_entry_at_a_time_keeps_few_objects(n in 1u64..3_000) {
            let max = 500;
            let mut listing = Vec::new();
            for seq in 1..=n {
                listing.push((seq, seq));
                let merges = plan(&listing, max);
                listing = apply(&listing, &merges);
            }
            // A few objects per `max` entries, and a logarithmic tail.
            let bound = (n / max + 1) * (2 * u64::from((max as f64).log2().ceil() as u32) + 2);
            prop_assert!((listing.len() as u64) <= bound, "{} objects for {} entries", listing.len(), n);
        }
    }
}
