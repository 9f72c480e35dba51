"""Text classification with a bidirectional GRU over word embeddings; the final hidden
states of both directions are joined and classified.
"""
import torch
import torch.nn as nn


class GRUClassifier(nn.Module):
    def __init__(self, vocab_size=20000, embed_dim=128, hidden_size=128, num_layers=2, num_classes=4):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.gru = nn.GRU(embed_dim, hidden_size, num_layers=num_layers, batch_first=True, bidirectional=True)
        self.norm = nn.LayerNorm(2 * hidden_size)
        self.head = nn.ModuleList([nn.Linear(2 * hidden_size, hidden_size), nn.GELU(), nn.Linear(hidden_size, num_classes)])

    def forward(self, tokens):
        x = self.embedding(tokens)                    # (B, T, E)
        outputs, h_n = self.gru(x)                    # outputs: (B, T, 2H); h_n: (2 * layers, B, H)
        last = torch.cat([h_n[-2], h_n[-1]], dim=1)   # both directions of the top layer
        x = self.norm(last)
        for layer in self.head:
            x = layer(x)
        return x


if __name__ == "__main__":
    model = GRUClassifier()
    batch = torch.randint(1, 20000, (16, 40))
    print(model(batch).shape)
