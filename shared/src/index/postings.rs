//! Feature-major sparse weights in compressed rows: for each feature id, the articles that have a
//! weight for it and the weights. One allocation per column, so the index is compact in memory and
//! stores as three flat arrays.

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Postings {
    /// `offsets[id]..offsets[id + 1]` is feature `id`'s range in `articles` and `weights`.
    pub(super) offsets: Vec<u32>,
    pub(super) articles: Vec<u32>,
    /// The article's unit-centroid weight for the feature.
    pub(super) centroid: Vec<f32>,
    /// The trained model's weight.
    pub(super) model: Vec<f32>,
}

impl Postings {
    /// From `(feature id, article, centroid weight, model weight)` entries in any order.
    pub fn from_entries(n_features: usize, mut entries: Vec<(u32, u32, f32, f32)>) -> Postings {
        entries.sort_unstable_by_key(|&(id, article, _, _)| (id, article));
        let mut offsets = vec![0u32; n_features + 1];
        for &(id, _, _, _) in &entries {
            offsets[id as usize + 1] += 1;
        }
        for i in 1..offsets.len() {
            offsets[i] += offsets[i - 1];
        }
        Postings {
            offsets,
            articles: entries.iter().map(|e| e.1).collect(),
            centroid: entries.iter().map(|e| e.2).collect(),
            model: entries.iter().map(|e| e.3).collect(),
        }
    }

    /// Drops the features whose `keep` is false, renumbering the rest in order. Their entries go
    /// with them.
    pub fn keep_features(&mut self, keep: &[bool]) {
        let mut offsets = Vec::with_capacity(keep.iter().filter(|&&k| k).count() + 1);
        offsets.push(0u32);
        let mut retained = Vec::with_capacity(self.articles.len());
        for (id, &keep) in keep.iter().enumerate() {
            if keep {
                let range = self.range(id as u32);
                offsets.push(offsets.last().copied().unwrap_or(0) + range.len() as u32);
                retained.extend(range);
            }
        }
        self.articles = retained.iter().map(|&i| self.articles[i]).collect();
        self.centroid = retained.iter().map(|&i| self.centroid[i]).collect();
        self.model = retained.iter().map(|&i| self.model[i]).collect();
        self.offsets = offsets;
    }

    /// Where feature `id`'s entries are.
    pub fn range(&self, id: u32) -> std::ops::Range<usize> {
        match (self.offsets.get(id as usize), self.offsets.get(id as usize + 1)) {
            (Some(&s), Some(&e)) => s as usize..e as usize,
            _ => 0..0,
        }
    }

    /// Feature `id`'s `(article, centroid weight, model weight)` entries.
    pub fn list(&self, id: u32) -> impl Iterator<Item = (u32, f32, f32)> + '_ {
        self.range(id)
            .map(|i| (self.articles[i], self.centroid[i], self.model[i]))
    }

    /// The entry of feature `id` for `article`, if it has one.
    pub fn position(&self, id: u32, article: u32) -> Option<usize> {
        let range = self.range(id);
        let start = range.start;
        self.articles[range].binary_search(&article).ok().map(|i| start + i)
    }

    pub fn len(&self) -> usize {
        self.articles.len()
    }

    pub fn heap_bytes(&self) -> usize {
        (self.offsets.capacity() + self.articles.capacity() + self.centroid.capacity() + self.model.capacity()) * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_by_feature() {
        let postings = Postings::from_entries(3, vec![(2, 5, 0.5, 0.0), (0, 1, 1.0, 0.0), (2, 3, 0.25, 0.0)]);
        assert_eq!(postings.list(0).collect::<Vec<_>>(), vec![(1, 1.0, 0.0)]);
        assert_eq!(postings.list(1).count(), 0);
        assert_eq!(
            postings.list(2).collect::<Vec<_>>(),
            vec![(3, 0.25, 0.0), (5, 0.5, 0.0)]
        );
        assert_eq!(postings.list(7).count(), 0);
        assert_eq!(postings.len(), 3);
        assert_eq!(postings.position(2, 5), Some(2));
        assert_eq!(postings.position(2, 4), None);
        assert_eq!(postings.position(9, 4), None);

        let mut kept = postings.clone();
        kept.keep_features(&[false, true, true]);
        assert_eq!(kept.list(0).count(), 0);
        assert_eq!(kept.list(1).collect::<Vec<_>>(), vec![(3, 0.25, 0.0), (5, 0.5, 0.0)]);
        assert_eq!(kept.len(), 2);
    }
}
