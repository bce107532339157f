"""The C encoder's model (examples/encoder/model.h) as a torch.nn.Module.

One definition for the parity test (tests/parity.py, which holds it to the C
code's logits and gradients) and the speed comparison (bench/encoder_torch.py),
so the model PyTorch is timed on is the one shown equal to the C trainer.

Post-LayerNorm BERT with BERT's parameter names: token + position + token
type embeddings, LayerNorm (eps 1e-12), dropout; per layer self-attention
with keys past each sequence's length masked (probability exactly 0),
dropout on the probabilities, output dense, dropout, residual, LayerNorm;
erf GELU feed-forward, dropout, residual, LayerNorm.  MLM head at the masked
positions only (dense, GELU, LayerNorm, decoder tied to the word embeddings
plus a bias); classifier on the [CLS] vector, the mean over the sequence's
tokens, or for pairs [u, v, |u - v|, u * v] with u and v the means over
segments 0 and 1, after its own dropout.

Dropout is a callable drop(site, x) -> x': site 0 the embeddings, 1 + 3l
layer l's attention probabilities, 2 + 3l and 3 + 3l its two residual
branches (applied to dense output + bias, before the residual add), 3L + 1
the pooled vector.  The parity test multiplies by the C code's masks; the
benchmark calls torch's dropout.
"""
import math


def build(torch, cfg):
    """A fresh model for cfg (vocab, hidden, layers, heads, ffn, max_len,
    classes; classes 0 leaves out the classifier; pool "pair", if given,
    makes the classifier's input 4H)."""
    nn, F = torch.nn, torch.nn.functional
    H, nh, V = cfg["hidden"], cfg["heads"], cfg["vocab"]

    class Embeddings(nn.Module):
        def __init__(self):
            super().__init__()
            self.word_embeddings = nn.Embedding(V, H)
            self.position_embeddings = nn.Embedding(cfg["max_len"], H)
            self.token_type_embeddings = nn.Embedding(2, H)
            self.LayerNorm = nn.LayerNorm(H, eps=1e-12)

        def forward(self, ids, seg):
            pos = self.position_embeddings.weight[:ids.shape[1]]
            e = self.word_embeddings(ids) + pos[None] + self.token_type_embeddings(seg)
            return self.LayerNorm(e)

    class SelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.query, self.key, self.value = nn.Linear(H, H), nn.Linear(H, H), nn.Linear(H, H)

        def forward(self, x, key_bias, drop, site):
            B, T, _ = x.shape
            d = H // nh

            def heads(t):
                return t.view(B, T, nh, d).transpose(1, 2)  # [B, nh, T, d]
            q, k, v = heads(self.query(x)), heads(self.key(x)), heads(self.value(x))
            # key_bias [B,1,1,T] is 0 or -inf: exp(-inf) = 0, so padded keys
            # get probability exactly 0, as in the C code.
            s = (q @ k.transpose(-1, -2)) / math.sqrt(d) + key_bias
            p = drop(site, torch.softmax(s, dim=-1))
            return (p @ v).transpose(1, 2).reshape(B, T, H)

    class DenseNorm(nn.Module):  # BERT's attention.output and output blocks
        def __init__(self, fan_in):
            super().__init__()
            self.dense = nn.Linear(fan_in, H)
            self.LayerNorm = nn.LayerNorm(H, eps=1e-12)

        def forward(self, y, residual, drop, site):
            return self.LayerNorm(residual + drop(site, self.dense(y)))

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.self = SelfAttention()
            self.output = DenseNorm(H)

    class Intermediate(nn.Module):
        def __init__(self):
            super().__init__()
            self.dense = nn.Linear(H, cfg["ffn"])

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.attention = Attention()
            self.intermediate = Intermediate()
            self.output = DenseNorm(cfg["ffn"])

        def forward(self, x, key_bias, drop, s):
            h = self.attention.output(self.attention.self(x, key_bias, drop, s), x, drop, s + 1)
            g = F.gelu(self.intermediate.dense(h))  # erf GELU (approximate="none")
            return self.output(g, h, drop, s + 2)

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.ModuleList(Layer() for _ in range(cfg["layers"]))

    class Transform(nn.Module):
        def __init__(self):
            super().__init__()
            self.dense = nn.Linear(H, H)
            self.LayerNorm = nn.LayerNorm(H, eps=1e-12)

    class Predictions(nn.Module):
        def __init__(self):
            super().__init__()
            self.transform = Transform()
            self.bias = nn.Parameter(torch.zeros(V))

    class Heads(nn.Module):
        def __init__(self):
            super().__init__()
            self.predictions = Predictions()

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.embeddings = Embeddings()
            self.encoder = Encoder()
            self.cls = Heads()
            if cfg["classes"] > 0:
                width = 4 * H if cfg.get("pool") == "pair" else H
                self.classifier = nn.Linear(width, cfg["classes"])

        def encode(self, ids, seg, lens, drop):
            """ids, seg [B,T] and lens [B] (int64) -> x [B,T,H], real [B,T]."""
            T = ids.shape[1]
            real = torch.arange(T)[None, :] < lens[:, None]
            zero = torch.zeros((), dtype=self.embeddings.LayerNorm.weight.dtype)
            key_bias = torch.where(real, zero, zero - math.inf)[:, None, None, :]
            x = drop(0, self.embeddings(ids, seg))
            for i, layer in enumerate(self.encoder.layer):
                x = layer(x, key_bias, drop, 1 + 3 * i)
            return x, real

        def forward_mlm(self, ids, seg, lens, mpos, mlabel, drop):
            """Logits [M,V] at the masked positions mpos (b*T + t) and the
            mean cross-entropy against mlabel."""
            x, _ = self.encode(ids, seg, lens, drop)
            hm = x.reshape(-1, H)[mpos]
            tr = self.cls.predictions.transform
            z = tr.LayerNorm(F.gelu(tr.dense(hm)))
            logits = F.linear(z, self.embeddings.word_embeddings.weight,
                              self.cls.predictions.bias)  # tied decoder
            return logits, F.cross_entropy(logits, mlabel)

        def forward_cls(self, ids, seg, lens, label, pool, drop):
            """Logits [B,C] of the classifier on the [CLS] vector (pool "cls"),
            the mean of the real tokens (pool "mean") or [u, v, |u - v|, u * v]
            (pool "pair"), and the mean cross-entropy against label."""
            x, real = self.encode(ids, seg, lens, drop)

            def mean_over(w):  # w [B,T]: 1 on the tokens averaged
                return (x * w[:, :, None]).sum(1) / w.sum(1, keepdim=True)
            if pool == "cls":
                pooled = x[:, 0]
            elif pool == "mean":
                pooled = mean_over(real.to(x.dtype))
            else:
                w1 = real.to(x.dtype) * (seg != 0).to(x.dtype)
                u, v = mean_over(real.to(x.dtype) - w1), mean_over(w1)
                pooled = torch.cat([u, v, (u - v).abs(), u * v], dim=1)
            logits = self.classifier(drop(3 * cfg["layers"] + 1, pooled))
            return logits, F.cross_entropy(logits, label)

    return Model()
