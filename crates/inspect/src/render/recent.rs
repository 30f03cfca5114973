//! Text the views wrote for the last few keys, copied back when a key comes again: a capture
//! repeats itself from packet to packet (the same conversation, the same layers, the same
//! headers), and copying a remembered text is cheaper than writing it again.
//!
//! The key must determine the text completely: whatever the text depends on is in the key.
//! tests/json_memory.rs holds the JSON view to that.

/// The texts of the last `N` keys. A new key replaces the one after the key used last, so with
/// `N = 2` a request and its reply, coming in turn, both stay.
pub(crate) struct Recent<K, const N: usize> {
    seen: [Option<(K, Vec<u8>)>; N],
    last: usize,
}

impl<K, const N: usize> Default for Recent<K, N> {
    fn default() -> Self {
        Recent {
            seen: std::array::from_fn(|_| None),
            last: 0,
        }
    }
}

impl<K, const N: usize> Recent<K, N> {
    /// Append the text remembered for a key that `matches`, or else write it with `make` and
    /// remember it under `key()`.
    #[inline]
    pub(crate) fn write(
        &mut self,
        o: &mut Vec<u8>,
        matches: impl Fn(&K) -> bool,
        key: impl FnOnce() -> K,
        make: impl FnOnce(&mut Vec<u8>),
    ) {
        let hit = self
            .seen
            .iter()
            .position(|s| s.as_ref().is_some_and(|(k, _)| matches(k)));
        if let Some(i) = hit {
            self.last = i;
            if let Some((_, text)) = &self.seen[i] {
                o.extend_from_slice(text);
            }
            return;
        }
        let at = o.len();
        make(o);
        let i = (self.last + 1) % N;
        let written = &o[at..];
        match &mut self.seen[i] {
            // The text's vector is reused.
            Some((k, text)) => {
                *k = key();
                text.clear();
                text.extend_from_slice(written);
            }
            empty => *empty = Some((key(), written.to_vec())),
        }
        self.last = i;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each write gives the key's own text, whether remembered or written: two keys in turn
    /// (both stay), a third one (it replaces the one not used last), and with one slot only.
    #[test]
    fn every_write_is_the_keys_text() {
        let keys = [1, 2, 1, 2, 3, 2, 1, 1, 3, 3];
        let mut two: Recent<u32, 2> = Recent::default();
        let mut made = 0;
        for k in keys {
            let mut o = b"x".to_vec();
            two.write(
                &mut o,
                |s| *s == k,
                || k,
                |o| {
                    made += 1;
                    o.extend_from_slice(format!("<{k}>").as_bytes());
                },
            );
            assert_eq!(o, format!("x<{k}>").as_bytes());
        }
        // 1 and 2 once each while they alternate; then 3 replaces 1, 1 replaces 3, and 3
        // replaces 2.
        assert_eq!(made, 5);
        let mut one: Recent<u32, 1> = Recent::default();
        let mut made = 0;
        for k in keys {
            let mut o = Vec::new();
            one.write(
                &mut o,
                |s| *s == k,
                || k,
                |o| {
                    made += 1;
                    o.extend_from_slice(k.to_string().as_bytes());
                },
            );
            assert_eq!(o, k.to_string().as_bytes());
        }
        // Made for the first key and again at each of the 7 changes of key.
        assert_eq!(made, 8);
    }
}
