"""A character-level language model (Karpathy's char-rnn): embed characters, run a
two-layer LSTM, predict the next character at every step.
"""
import torch
import torch.nn as nn


class CharRNN(nn.Module):
    def __init__(self, vocab_size=96, embed_dim=64, hidden_size=256, num_layers=2, dropout=0.3):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden_size, num_layers=num_layers, dropout=dropout, batch_first=True)
        self.drop = nn.Dropout(dropout)
        self.decoder = nn.Linear(hidden_size, vocab_size)

    def forward(self, tokens, hidden=None):
        emb = self.embedding(tokens)              # (batch, seq, embed)
        out, hidden = self.lstm(emb, hidden)      # (batch, seq, hidden)
        logits = self.decoder(self.drop(out))     # (batch, seq, vocab)
        return logits, hidden


if __name__ == "__main__":
    vocab_size = 96
    model = CharRNN(vocab_size=vocab_size)
    tokens = torch.randint(0, vocab_size, (8, 100))
    logits, (h, c) = model(tokens)
