//! Feature-major sparse weights in compressed rows: for each feature id, the articles that have a
//! weight for it and the weights. One allocation per column, so the index is compact in memory and
//! stores as three flat arrays.

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Postings {
    /// `offsets[id]..offsets[id + 1]` is feature `id`'s range in `articles` and the weights.
    pub(super) offsets: Vec<u32>,
    pub(super) articles: Vec<u32>,
    /// The article's unit-centroid weight for the feature.
    pub(super) centroid: Column,
    /// The trained model's weight.
    pub(super) model: Column,
}

/// A column of numbers (the postings' weights, the features' idf) held as 16-bit steps of its
/// largest magnitude: half the memory of `f32` (a 10,000-article index has about 1.7 million
/// weights in each postings column), and exactly what the stored index holds, so an index answers
/// the same built as loaded. One step is 1/32767 of the largest value, far below what changes a
/// ranking.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Column {
    /// The largest magnitude: what `i16::MAX` stands for.
    scale: f32,
    /// `scale / i16::MAX`, what one step is worth.
    step: f32,
    values: Vec<i16>,
}

impl Column {
    const STEPS: f32 = i16::MAX as f32;

    #[cfg(test)]
    pub fn quantize(weights: impl Iterator<Item = f32> + Clone) -> Column {
        let scale = weights.clone().fold(0.0f32, |m, w| m.max(Column::magnitude(w)));
        let values = weights.map(|w| Column::steps_of(w, scale)).collect();
        Column::from_parts(scale, values)
    }

    /// What `w` counts towards a column's scale (its largest magnitude): nothing if it is not a
    /// number.
    pub(super) fn magnitude(w: f32) -> f32 {
        if w.is_finite() { w.abs() } else { 0.0 }
    }

    /// `w` as steps of `scale` (a column's largest magnitude); 0 for what is not a number.
    pub(super) fn steps_of(w: f32, scale: f32) -> i16 {
        if scale > 0.0 && w.is_finite() {
            // Rounded half away from zero by hand: `f32::round` is a library call on targets
            // without a rounding instruction, and this runs over every weight of the index. `as`
            // saturates at ±i16::MAX.
            let steps = w * (Self::STEPS / scale);
            (steps + 0.5f32.copysign(steps)) as i16
        } else {
            0
        }
    }

    /// A column as stored: its largest magnitude and its steps.
    pub fn from_parts(scale: f32, values: Vec<i16>) -> Column {
        Column {
            scale,
            step: scale / Self::STEPS,
            values,
        }
    }

    pub fn scale(&self) -> f32 {
        self.scale
    }

    pub fn steps(&self) -> &[i16] {
        &self.values
    }

    pub fn heap_bytes(&self) -> usize {
        self.values.capacity() * 2
    }

    pub fn get(&self, i: usize) -> f32 {
        f32::from(self.values[i]) * self.step
    }
}

impl Postings {
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
            .map(|i| (self.articles[i], self.centroid.get(i), self.model.get(i)))
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
        (self.offsets.capacity() + self.articles.capacity()) * 4 + self.centroid.heap_bytes() + self.model.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_column_keeps_each_number_within_half_a_step() {
        let numbers = [0.0, 1.0, -2.5, 0.3, 1e-6, -0.01, 2.5];
        let column = Column::quantize(numbers.iter().copied());
        assert_eq!(column.scale(), 2.5);
        assert_eq!(column.steps().len(), numbers.len());
        let half_step = 2.5 / f32::from(i16::MAX) / 2.0;
        for (i, &x) in numbers.iter().enumerate() {
            assert!(
                (column.get(i) - x).abs() <= half_step * 1.001,
                "{x} came back as {}",
                column.get(i)
            );
        }
        // The largest magnitude comes back exactly, and so does 0.
        assert_eq!((column.get(2), column.get(6), column.get(0)), (-2.5, 2.5, 0.0));
        assert_eq!(column.heap_bytes(), numbers.len() * 2);

        // Nothing to scale by, or a number that is not one: zeros, never a NaN in a score.
        let zeros = Column::quantize([0.0, 0.0].into_iter());
        assert_eq!((zeros.get(0), zeros.get(1)), (0.0, 0.0));
        let odd = Column::quantize([f32::NAN, 1.0, f32::INFINITY].into_iter());
        assert_eq!((odd.get(0), odd.get(1), odd.get(2)), (0.0, 1.0, 0.0));
    }

    #[test]
    fn rows_by_feature() {
        // Weights that are whole steps of the largest (1.0), so they come back exactly.
        let step = 1.0 / f32::from(i16::MAX);
        let (half, quarter) = (16384.0 * step, 8192.0 * step);
        let postings = Postings {
            offsets: vec![0, 1, 1, 3],
            articles: vec![1, 3, 5],
            centroid: Column::quantize([1.0, quarter, half].into_iter()),
            model: Column::quantize([0.0, -1.0, 0.0].into_iter()),
        };
        assert_eq!(postings.list(0).collect::<Vec<_>>(), vec![(1, 1.0, 0.0)]);
        assert_eq!(postings.list(1).count(), 0);
        assert_eq!(
            postings.list(2).collect::<Vec<_>>(),
            vec![(3, quarter, -1.0), (5, half, 0.0)]
        );
        assert_eq!(postings.list(7).count(), 0);
        assert_eq!(postings.len(), 3);
        assert_eq!(postings.position(2, 5), Some(2));
        assert_eq!(postings.position(2, 4), None);
        assert_eq!(postings.position(9, 4), None);
    }
}
