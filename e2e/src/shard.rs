//! `--shard K/N`: a deterministic split of the sorted run list, so CI can
//! spread the catalogue over N machines. Item `i` (0-based, in name order)
//! goes to shard `i % N + 1`: round-robin keeps the slow scenarios, which
//! sit next to each other by name, apart.

use std::fmt;
use std::str::FromStr;

/// Shard `index` of `count`, 1-based as written on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Shard, String> {
        let usage = || format!("--shard wants K/N with 1 <= K <= N, such as 2/4; got {text:?}");
        let (index, count) = text.split_once('/').ok_or_else(usage)?;
        let index: usize = index.trim().parse().map_err(|_| usage())?;
        let count: usize = count.trim().parse().map_err(|_| usage())?;
        if count == 0 || index == 0 || index > count {
            return Err(usage());
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// The items of this shard, in their order; `items` must already be
    /// sorted, so every machine computes the same split.
    pub fn select<T>(&self, items: Vec<T>) -> Vec<T> {
        items
            .into_iter()
            .enumerate()
            .filter(|(position, _)| position % self.count == self.index - 1)
            .map(|(_, item)| item)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing_accepts_k_of_n_only() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        assert_eq!("1/1".parse::<Shard>().unwrap().to_string(), "1/1");
        for bad in ["0/4", "5/4", "1/0", "2", "a/b", "", "1/2/3"] {
            let error = bad.parse::<Shard>().unwrap_err();
            assert!(error.contains("K/N"), "{bad}: {error}");
        }
    }

    #[test]
    fn round_robin_by_index() {
        let names: Vec<u32> = (0..7).collect();
        let split = |index| Shard { index, count: 3 }.select(names.clone());
        assert_eq!(split(1), [0, 3, 6]);
        assert_eq!(split(2), [1, 4]);
        assert_eq!(split(3), [2, 5]);
    }

    /// Every item lands in exactly one shard, whatever N.
    #[test]
    fn the_shards_partition_the_list() {
        let names: Vec<String> = (0..23)
            .map(|index| format!("scenario-{index:02}"))
            .collect();
        for count in 1..=30 {
            let mut seen: Vec<String> = (1..=count)
                .flat_map(|index| Shard { index, count }.select(names.clone()))
                .collect();
            seen.sort();
            assert_eq!(seen, names, "N = {count}");
        }
    }
}
