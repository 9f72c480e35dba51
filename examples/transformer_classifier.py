"""A small Transformer encoder for sequence classification: token embeddings plus a learned
position table, a stack of encoder layers, mean pooling over the sequence, a linear head.
"""
import math

import torch
import torch.nn as nn


class PositionalEmbedding(nn.Module):
    """Learned positions: a plain nn.Parameter table, sliced to the sequence length."""

    def __init__(self, max_len: int, d_model: int):
        super().__init__()
        self.table = nn.Parameter(torch.zeros(1, max_len, d_model))
        nn.init.trunc_normal_(self.table, std=0.02)

    def forward(self, x):
        return x + self.table[:, : x.size(1)]


class TransformerClassifier(nn.Module):
    def __init__(self, vocab_size=8000, d_model=128, nhead=4, num_layers=2, dim_feedforward=256,
                 max_len=512, num_classes=5, dropout=0.1):
        super().__init__()
        self.d_model = d_model
        self.embed = nn.Embedding(vocab_size, d_model)
        self.pos = PositionalEmbedding(max_len, d_model)
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, num_classes)
        # Not a parameter: moves with the model but is not trained or counted.
        self.register_buffer("scale", torch.tensor(math.sqrt(d_model)))

    def forward(self, tokens):
        x = self.embed(tokens) * self.scale          # (B, T, d_model)
        x = self.pos(x)
        x = self.encoder(x)
        x = self.norm(x.mean(dim=1))                  # pool over the sequence
        return self.head(x)


if __name__ == "__main__":
    model = TransformerClassifier()
    logits = model(torch.randint(0, 8000, (4, 64)))
