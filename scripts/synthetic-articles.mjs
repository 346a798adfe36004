// Synthetic knowledge bases as the index benchmark makes them (shared/benches/index.rs): made-up
// words, each article mostly its own topic's, ten example questions each. The same seed gives the
// same articles, so runs compare.
const syllables = ["ka", "lo", "mi", "ser", "tan", "vu", "dre", "po", "lin", "gar", "shu", "ne", "ro", "bel", "fi", "zo"];

/** `n` articles `{ id: "a<i>", title, body, questions }`. */
export function syntheticArticles(n) {
  let seed = 0x9e3779b97f4a7c15n;
  const next = (bound) => {
    seed ^= seed << 13n;
    seed &= 0xffffffffffffffffn;
    seed ^= seed >> 7n;
    seed ^= seed << 17n;
    seed &= 0xffffffffffffffffn;
    return Number(seed % BigInt(bound));
  };
  const words = Array.from({ length: 4000 }, () => Array.from({ length: 2 + next(3) }, () => syllables[next(syllables.length)]).join(""));
  return Array.from({ length: n }, (_, i) => {
    const topic = Array.from({ length: 8 }, () => next(words.length));
    const sentence = (length) =>
      Array.from({ length }, () => (next(3) === 0 ? words[next(1 + next(words.length))] : words[topic[next(topic.length)]])).join(" ");
    return {
      id: `a${i}`,
      title: sentence(5),
      body: Array.from({ length: 4 }, () => sentence(10)).join(". "),
      questions: Array.from({ length: 10 }, () => sentence(7)),
    };
  });
}
