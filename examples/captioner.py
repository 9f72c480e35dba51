"""Image captioning (Show and Tell): a CNN encodes the image to one feature vector that is
fed to an LSTM as the first "word"; the LSTM then reads the caption and predicts each
next word.
"""
from dataclasses import dataclass

import torch
import torch.nn as nn


@dataclass
class CaptionerConfig:
    vocab_size: int = 5000
    embed_size: int = 256
    hidden_size: int = 512
    num_layers: int = 1
    image_channels: int = 3
    freeze_cnn: bool = True


class EncoderCNN(nn.Module):
    def __init__(self, embed_size, in_channels=3):
        super().__init__()
        widths = [in_channels, 32, 64, 128, 256]
        blocks = []
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            blocks += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
        self.cnn = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(widths[-1], embed_size)
        self.bn = nn.BatchNorm1d(embed_size, momentum=0.01)

    def forward(self, images):
        features = self.pool(self.cnn(images))
        features = features.reshape(features.size(0), -1)
        return self.bn(self.fc(features))


class DecoderRNN(nn.Module):
    def __init__(self, cfg: CaptionerConfig):
        super().__init__()
        self.embed = nn.Embedding(cfg.vocab_size, cfg.embed_size)
        self.lstm = nn.LSTM(cfg.embed_size, cfg.hidden_size, cfg.num_layers, batch_first=True)
        self.linear = nn.Linear(cfg.hidden_size, cfg.vocab_size)

    def forward(self, features, captions):
        embeddings = self.embed(captions)
        # The image feature is the first step of the sequence.
        embeddings = torch.cat((features.unsqueeze(1), embeddings), 1)
        hiddens, _ = self.lstm(embeddings)
        return self.linear(hiddens)


class Captioner(nn.Module):
    def __init__(self, cfg: CaptionerConfig = CaptionerConfig()):
        super().__init__()
        self.encoder = EncoderCNN(cfg.embed_size, cfg.image_channels)
        self.decoder = DecoderRNN(cfg)
        if cfg.freeze_cnn:
            # Only the projection, its norm and the decoder learn; the conv stack stays fixed.
            for param in self.encoder.cnn.parameters():
                param.requires_grad = False

    def forward(self, images, captions):
        return self.decoder(self.encoder(images), captions)


if __name__ == "__main__":
    cfg = CaptionerConfig(vocab_size=1000)
    model = Captioner(cfg)
    images = torch.randn(4, 3, 128, 128)
    captions = torch.randint(0, cfg.vocab_size, (4, 20))
    scores = model(images, captions)
