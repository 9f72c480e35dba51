#!/usr/bin/env python3
"""Writes the model golden files that tests/unit/goldens.test.ts checks the analyzer against.

Each golden is what real PyTorch reports for one (file, entry, inputs): the model's output
shapes, its parameter counts, and every leaf-module call in execution order as forward
hooks see it (named_modules() path, class name, shapes of every tensor in the output,
the module's own parameter count).

Requires torch==2.13.0+cpu and torchvision==0.28.0 (and timm for --with-timm; the tests
do not: they read the committed JSON). Run from anywhere:

    python3 scripts/goldens/make_model_goldens.py            # all goldens
    python3 scripts/goldens/make_model_goldens.py resnet18 lenet5   # names containing these
    python3 scripts/goldens/make_model_goldens.py --with-timm timm_ # also timm models (needs timm)

The fused attention fast path is turned off (see main). Models are built and run on the "meta" device (shapes without data: fast, no memory);
a model that meta cannot run falls back to CPU. Shapes are identical either way.
"""
import importlib
import json
import os
import sys
import time
import types

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT_DIR = os.path.join(REPO_ROOT, "tests", "unit", "goldens", "models")

# CPU torch lacks the CUDA meta registrations torchvision tries to load at import time.
sys.modules["torchvision._meta_registrations"] = types.ModuleType("torchvision._meta_registrations")

import torch  # noqa: E402
import torchvision  # noqa: E402
import torchvision.models  # noqa: E402
import torchvision.models.segmentation  # noqa: E402

# (file relative to the repo, entry expression, inputs as (shape, dtype), whether those
# inputs are the ones the file itself declares — comment or tensor in __main__).
EXAMPLES = [
    ("examples/lenet5.py", "LeNet5()", [((1, 1, 32, 32), "float32")], True),
    ("examples/cifar_cnn.py", "CifarCNN()", [((64, 3, 32, 32), "float32")], True),
    ("examples/alexnet.py", "AlexNet()", [((1, 3, 227, 227), "float32")], True),
    ("examples/vgg16.py", "vgg16()", [((2, 3, 224, 224), "float32")], True),
    ("examples/vgg16.py", "vgg16(num_classes=10, batch_norm=True)", [((1, 3, 32, 32), "float32")], False),
    ("examples/inception.py", "model", [((8, 3, 32, 32), "float32")], True),
    ("examples/resnet_blocks.py", "resnet10_basic()", [((4, 3, 32, 32), "float32")], True),
    ("examples/resnet_blocks.py", "resnet26_bottleneck()", [((2, 3, 64, 64), "float32")], False),
    ("examples/resnet_blocks.py", "SmallResNet(Bottleneck, [1, 2, 1, 1], num_classes=100)",
     [((3, 3, 40, 40), "float32")], False),
    ("examples/squeezenet_fire.py", "SqueezeNetCifar()", [((1, 3, 224, 224), "float32")], True),
    ("examples/squeezenet_fire.py", "SqueezeNet()", [((2, 3, 227, 227), "float32")], False),
    ("examples/densenet_block.py", "net", [((2, 3, 32, 32), "float32")], True),
    ("examples/densenet_block.py", "TinyDenseNet(growth_rate=8, block_config=(2, 3, 4, 2))",
     [((1, 3, 64, 64), "float32")], False),
    ("examples/dilated.py", "DilatedSegNet()", [((2, 3, 96, 128), "float32")], True),
    ("examples/fcn.py", "model", [((1, 3, 64, 96), "float32")], True),
    ("examples/char_rnn.py", "CharRNN(vocab_size=96)", [((8, 100), "int64")], True),
    ("examples/char_rnn.py", "CharRNN(vocab_size=65, num_layers=3)", [((2, 17), "int64")], False),
    ("examples/captioner.py", "Captioner(CaptionerConfig(vocab_size=1000))",
     [((4, 3, 128, 128), "float32"), ((4, 20), "int64")], True),
    ("examples/captioner.py", "Captioner(CaptionerConfig(freeze_cnn=False, num_layers=2))",
     [((2, 3, 64, 64), "float32"), ((2, 12), "int64")], False),
    ("examples/gru_classifier.py", "GRUClassifier()", [((16, 40), "int64")], True),
    ("examples/pkg/net.py", "TinyMobileNet()", [((2, 3, 64, 64), "float32")], True),
    ("examples/pkg/net.py", "TinyMobileNet(num_classes=10, width_mult=1.4)", [((1, 3, 96, 96), "float32")], False),
    ("examples/unet.py", "model", [((1, 3, 100, 140), "float32")], True),
    ("examples/unet.py", "UNet(in_channels=1, num_classes=4, widths=(16, 32, 64))", [((2, 1, 64, 64), "float32")], False),
    ("examples/vit_tiny.py", "TinyViT()", [((2, 3, 64, 64), "float32")], True),
    ("examples/vit_tiny.py", "TinyViT(img_size=96, patch_size=16, dim=64, depth=2, heads={'digit': 10})",
     [((3, 3, 96, 96), "float32")], False),
    ("examples/transformer_classifier.py", "TransformerClassifier()", [((4, 64), "int64")], True),
    ("examples/transformer_classifier.py", "TransformerClassifier(num_layers=3, nhead=8, d_model=64, num_classes=2)",
     [((2, 100), "int64")], False),
    ("examples/transfer_learning.py", "model", [((4, 3, 160, 160), "float32")], True),
    ("examples/transfer_learning.py", "build_finetune_model(num_classes=5, freeze_backbone=False)",
     [((2, 3, 224, 224), "float32")], False),
]

# Held-out probes (tests/fixtures/heldout/): model code written the way people write it but
# that no example or torchvision file exercises (dict/dataclass/tuple-table configs, getattr
# stages, in-place arithmetic, parameters used in forward, Conv1d/Conv3d, transposed convs,
# LSTM proj_size, several inputs). Same tuple layout as EXAMPLES.
HELDOUT = [
    ("tests/fixtures/heldout/mobile_table.py", "MobileTable()", [((1, 3, 128, 128), "float32")], True),
    ("tests/fixtures/heldout/mobile_table.py", "MobileTable(num_classes=10, width_mult=0.5)",
     [((2, 3, 96, 80), "float32")], False),
    ("tests/fixtures/heldout/shuffle_split.py", "ShuffleSplitNet()", [((2, 3, 96, 96), "float32")], True),
    ("tests/fixtures/heldout/shuffle_split.py", "ShuffleSplitNet(repeats=(1, 1, 1), num_classes=3)",
     [((1, 3, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/audio_conv1d.py", "M5()", [((4, 1, 8000), "float32"), ((4, 40, 101), "float32")], True),
    ("tests/fixtures/heldout/audio_conv1d.py",
     "M5(AudioConfig(n_classes=10, stride=4, channels=[16, 32, 32, 64], n_mels=64))",
     [((2, 1, 4000), "float32"), ((2, 64, 50), "float32")], False),
    ("tests/fixtures/heldout/video_conv3d.py", "VideoNet()", [((2, 3, 8, 64, 64), "float32")], True),
    ("tests/fixtures/heldout/dcgan.py", "Generator()", [((8, 64, 1, 1), "float32"), ((8,), "int64")], True),
    ("tests/fixtures/heldout/dcgan.py", "Generator(nz=100, ngf=16, nc=1)", [((2, 100), "float32"), ((2,), "int64")], False),
    ("tests/fixtures/heldout/dcgan.py", "Discriminator()", [((4, 3, 32, 32), "float32")], False),
    ("tests/fixtures/heldout/seq_tagger.py", "LSTMTagger()", [((4, 30), "int64")], True),
    ("tests/fixtures/heldout/seq_tagger.py", "LSTMTagger(bidirectional=False, layers=3, proj=32)",
     [((2, 11), "int64")], False),
    ("tests/fixtures/heldout/seq_tagger.py", "GRUEncoder()", [((3, 50, 13), "float32")], False),
    ("tests/fixtures/heldout/text_cnn.py", "TextCNN()", [((8, 50), "int64")], True),
    ("tests/fixtures/heldout/text_cnn.py", "TextCNN(windows=(2, 3), filters=16, num_classes=2)",
     [((2, 7), "int64")], False),
    ("tests/fixtures/heldout/vit_params.py", "ViTClassifier()", [((2, 3, 64, 64), "float32")], True),
    ("tests/fixtures/heldout/vit_params.py", "ViTClassifier(dim=64, depth=3, heads=8, patch=16, num_classes=100)",
     [((1, 3, 96, 128), "float32")], False),
    ("tests/fixtures/heldout/unet_dict.py", "DictUNet()", [((1, 3, 64, 96), "float32")], True),
    ("tests/fixtures/heldout/unet_dict.py", "DictUNet(in_channels=1, out_channels=5, features=8, depth=4)",
     [((2, 1, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/attention_maps.py", "AttnNet()", [((2, 3, 32, 48), "float32")], True),
    ("tests/fixtures/heldout/inherit_kwargs.py", "model", [((2, 3, 64, 64), "float32")], True),
    ("tests/fixtures/heldout/inherit_kwargs.py", "Net.tiny(num_classes=5)", [((1, 3, 32, 32), "float32")], False),
    ("tests/fixtures/heldout/inherit_kwargs.py", "BottleNet(groups=4, dilation=2)", [((2, 3, 64, 48), "float32")], False),
    ("tests/fixtures/heldout/inplace_ops.py", "InplaceNet()", [((2, 3, 32, 32), "float32")], True),
    ("tests/fixtures/heldout/tabular.py", "TabularNet()", [((16, 3), "int64"), ((16, 8), "float32")], True),
    ("tests/fixtures/heldout/tabular.py", "KeyedTabular()", [((5, 3), "int64"), ((5, 4), "float32")], False),
    ("tests/fixtures/heldout/fpn_heads.py", "model", [((1, 3, 128, 160), "float32")], True),
    ("tests/fixtures/heldout/fpn_heads.py", "Detector(num_classes=3, num_anchors=1)", [((2, 3, 96, 96), "float32")], False),
    ("tests/fixtures/heldout/gpt_mini.py", "GPT()", [((2, 48), "int64")], True),
    ("tests/fixtures/heldout/gpt_mini.py", "GPT(GPTConfig(n_layer=3, n_head=2, n_embd=32, bias=False, block_size=16))",
     [((3, 16), "int64")], False),
    ("tests/fixtures/heldout/siamese.py", "Siamese()", [((4, 1, 28, 28), "float32"), ((4, 1, 28, 28), "float32")], True),
    ("tests/fixtures/heldout/segnet_pad.py", "model", [((1, 3, 45, 61), "float32")], True),
    ("tests/fixtures/heldout/segnet_pad.py", "PadSegNet(classes=2, scale=3)", [((2, 3, 32, 40), "float32")], False),
    ("tests/fixtures/heldout/custom_params.py", "RawNet()", [((2, 3, 40, 40), "float32"), ((2,), "int64")], True),
    ("tests/fixtures/heldout/seq2seq.py", "Seq2Seq()", [((12, 2), "int64"), ((9, 2), "int64")], True),
    ("tests/fixtures/heldout/seq2seq.py", "CellDecoder()", [((7, 3), "int64")], False),
    ("tests/fixtures/heldout/misc_indexing.py", "OddNet()", [((2, 3, 16, 16), "float32")], True),
    ("tests/fixtures/heldout/layer_variants.py", "ConvVariants()", [((2, 3, 21, 27), "float32")], True),
    ("tests/fixtures/heldout/layer_variants.py", "PoolVariants()", [((2, 3, 23, 30), "float32")], False),
    ("tests/fixtures/heldout/layer_variants.py", "NormVariants()", [((2, 3, 10, 12), "float32")], False),
    ("tests/fixtures/heldout/layer_variants.py", "ResizeVariants()", [((2, 3, 9, 11), "float32")], False),
    ("tests/fixtures/heldout/layer_variants.py", "LazyNet()", [((2, 3, 12, 12), "float32")], False),
    ("tests/fixtures/heldout/attention_variants.py", "MHAVariants()", [((2, 7, 16), "float32")], True),
    ("tests/fixtures/heldout/attention_variants.py", "EncoderVariants()", [((2, 9, 48), "float32"), ((2, 9), "bool")], False),
    ("tests/fixtures/heldout/attention_variants.py", "Seq2SeqBF()", [((2, 11, 32), "float32"), ((2, 6, 32), "float32")], False),
    ("tests/fixtures/heldout/rnn_variants.py", "model", [((6, 3, 10), "float32")], True),
    ("tests/fixtures/heldout/rnn_variants.py", "parallel", [((5, 2, 4), "float32")], False),
    ("tests/fixtures/heldout/tv_blocks.py", "model", [((2, 3, 128, 128), "float32")], True),
    ("tests/fixtures/heldout/tv_blocks.py", "PyramidNet()", [((1, 3, 96, 160), "float32")], False),
    ("tests/fixtures/heldout/tv_blocks.py", "mobilenet_head()", [((2, 3, 112, 112), "float32")], False),
    ("tests/fixtures/heldout/reparam.py", "model", [((2, 3, 32, 32), "float32")], True),
    ("tests/fixtures/heldout/reparam.py", "ParamNormNet()", [((2, 1, 50), "float32")], False),
    ("tests/fixtures/heldout/reparam.py", "SymmetricMLP()", [((4, 5), "float32")], False),
    ("tests/fixtures/heldout/registry_entries.py", "model", [((2, 3, 96, 96), "float32")], True),
    ("tests/fixtures/heldout/registry_entries.py", "small", [((1, 3, 128, 128), "float32")], True),
    ("tests/fixtures/heldout/registry_entries.py", "regnet_for()", [((2, 3, 64, 80), "float32")], False),
    ("tests/fixtures/heldout/control_flow.py", "model", [((2, 3, 64, 63), "float32")], True),
    ("tests/fixtures/heldout/control_flow.py", "FlowNet(ch=8, depth=2, min_size=2, classes=3)", [((3, 96, 80), "float32")], False),
    ("tests/fixtures/heldout/configs.py", "model", [((2, 3, 64, 64), "float32")], True),
    ("tests/fixtures/heldout/configs.py",
     "ConfigNet(argparse.Namespace(in_ch=1, act='relu', stem=8), head=HeadCfg(dropout=0.0, act=Act.RELU), blocks=('k3_s1_e2_c8',))",
     [((1, 1, 32, 48), "float32")], False),
    ("tests/fixtures/heldout/feature_extraction.py", "model", [((1, 3, 64, 64), "float32")], True),
    ("tests/fixtures/heldout/feature_extraction.py", "deep", [((2, 3, 96, 96), "float32")], True),
    ("tests/fixtures/heldout/feature_extraction.py", "vit", [((1, 3, 64, 64), "float32")], True),
    ("tests/fixtures/heldout/feature_extraction.py", "MultiScale()", [((2, 3, 64, 80), "float32")], False),
    ("tests/fixtures/heldout/registry_timm.py", "model", [((2, 3, 64, 64), "float32")], True),
    ("tests/fixtures/heldout/registry_timm.py", "timm.create_model('convnext_atto', num_classes=5, drop_path_rate=0.1)",
     [((1, 3, 96, 96), "float32")], False),
    # Round 2: course-notes architectures written the way students write them, configs parsed
    # from text, class factories and mixins, recursion, sharing, hand-stepped and packed RNNs.
    ("tests/fixtures/heldout/student_cnns.py", "model", [((2, 3, 48, 48), "float32")], True),
    ("tests/fixtures/heldout/student_cnns.py", "VGGStudent(name='A', img=64, n_classes=5, bn=True)",
     [((1, 3, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/student_cnns.py", "AlexNetNotes()", [((2, 3, 227, 227), "float32")], False),
    ("tests/fixtures/heldout/student_cnns.py", "AlexNetNotes(num_classes=10, width=0.5)", [((1, 3, 227, 227), "float32")], False),
    ("tests/fixtures/heldout/student_blocks.py", "model", [((2, 3, 64, 64), "float32")], True),
    ("tests/fixtures/heldout/student_blocks.py", "MiniGoogLeNet(num_classes=3, aux=False)", [((1, 3, 96, 80), "float32")], False),
    ("tests/fixtures/heldout/student_blocks.py", "SqueezeDense()", [((2, 3, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/student_blocks.py", "SqueezeDense(growth=8, layers=(2, 2), reduction=0.75, num_classes=4)",
     [((1, 3, 48, 48), "float32")], False),
    ("tests/fixtures/heldout/student_resnets.py", "ResNet18()", [((2, 3, 32, 32), "float32")], True),
    ("tests/fixtures/heldout/student_resnets.py", "PreActResNet26()", [((1, 3, 32, 32), "float32")], False),
    ("tests/fixtures/heldout/student_resnets.py", "CifarResNet(depth=32, num_classes=100, width=8)",
     [((2, 3, 32, 32), "float32")], False),
    ("tests/fixtures/heldout/student_resnets.py", "CifarResNet()", [((3, 3, 32, 40), "float32")], False),
    ("tests/fixtures/heldout/config_strings.py", "model", [((2, 3, 64, 64), "float32")], True),
    ("tests/fixtures/heldout/config_strings.py", "YamlNet()", [((2, 3, 32, 32), "float32")], False),
    ("tests/fixtures/heldout/config_strings.py", "JsonNet(JSON_CFG.replace('SiLU', 'ReLU').replace('true', 'false'))",
     [((1, 3, 48, 40), "float32")], False),
    ("tests/fixtures/heldout/class_tricks.py", "model", [((2, 3, 32, 32), "float32")], True),
    ("tests/fixtures/heldout/class_tricks.py", "wrapped()", [((1, 3, 24, 24), "float32")], False),
    ("tests/fixtures/heldout/class_tricks.py", "DiamondNet(width=4, depth=1, num_classes=2)", [((1, 3, 16, 16), "float32")], False),
    ("tests/fixtures/heldout/seq_lists.py", "model", [((2, 3, 40, 40), "float32")], True),
    ("tests/fixtures/heldout/seq_lists.py", "SeqNet(chans=(1, 4, 8, 8, 16), n_out=3)", [((1, 1, 48, 36), "float32")], False),
    ("tests/fixtures/heldout/seq_lists.py", "Chain()", [((4, 10), "float32")], False),
    ("tests/fixtures/heldout/seq_lists.py", "Chain(sizes=(6, 6))", [((2, 3, 6), "float32")], False),
    ("tests/fixtures/heldout/pix2pix_unet.py", "model", [((1, 3, 64, 64), "float32")], True),
    ("tests/fixtures/heldout/pix2pix_unet.py", "UnetGenerator(num_downs=7, ngf=8, norm_layer=instance_norm, use_dropout=True)",
     [((1, 3, 128, 128), "float32")], False),
    ("tests/fixtures/heldout/pix2pix_unet.py", "NLayerDiscriminator()", [((2, 6, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/pix2pix_unet.py", "NLayerDiscriminator(input_nc=3, n_layers=4, norm_layer=instance_norm)",
     [((1, 3, 96, 96), "float32")], False),
    ("tests/fixtures/heldout/sharing.py", "RNNModel()", [((35, 4), "int64")], True),
    ("tests/fixtures/heldout/sharing.py", "RNNModel(rnn_type='GRU', nhid=32, ninp=32, nlayers=1, dropout=0.0)",
     [((10, 2), "int64")], False),
    ("tests/fixtures/heldout/sharing.py", "RNNModel(rnn_type='RNN_RELU', nhid=48, tie_weights=False)", [((6, 3), "int64")], False),
    ("tests/fixtures/heldout/sharing.py", "SharedNet()", [((3, 16), "float32"), ((3, 16), "float32")], False),
    ("tests/fixtures/heldout/tensor_plumbing.py", "model", [((2, 3, 8, 10), "float32")], True),
    ("tests/fixtures/heldout/tensor_plumbing.py", "Plumbing(ch=24, dim=8)", [((1, 3, 5, 7), "float32")], False),
    ("tests/fixtures/heldout/tensor_plumbing.py", "TimeMix()", [((2, 10, 16), "float32")], False),
    ("tests/fixtures/heldout/tensor_plumbing.py", "TimeMix(dim=8, window=3)", [((1, 9, 8), "float32")], False),
    ("tests/fixtures/heldout/decoders_norms.py", "model", [((2, 32), "float32")], True),
    ("tests/fixtures/heldout/decoders_norms.py", "Decoder(latent=8, ch=8, out_ch=1)", [((3, 8), "float32")], False),
    ("tests/fixtures/heldout/decoders_norms.py", "NormDims()", [((2, 6, 10, 12), "float32")], False),
    ("tests/fixtures/heldout/pools_bags.py", "model", [((2, 4, 23), "float32"), ((2, 3, 4, 15, 17), "float32")], True),
    ("tests/fixtures/heldout/pools_bags.py", "Pools1d3d()", [((1, 4, 30), "float32"), ((1, 2, 3, 9, 12), "float32")], False),
    ("tests/fixtures/heldout/pools_bags.py", "BagModel()", [((3, 7), "int64")], False),
    ("tests/fixtures/heldout/rnn_steps.py", "model", [((3, 7, 10), "float32")], True),
    ("tests/fixtures/heldout/rnn_steps.py", "CellStack(inp=5, hid=8, out=2)", [((2, 3, 5), "float32")], False),
    ("tests/fixtures/heldout/rnn_steps.py", "BiGRUEncoder()", [((11, 2), "int64")], False),
    ("tests/fixtures/heldout/rnn_steps.py", "PackedLSTM()", [((4, 6, 8), "float32")], False),
    ("tests/fixtures/heldout/transformer_dec.py", "model", [((9, 2), "int64"), ((13, 2, 20), "float32")], True),
    ("tests/fixtures/heldout/transformer_dec.py", "TranslationDecoder(d_model=48, nhead=6, layers=3, ff=32, mem_dim=12)",
     [((5, 3), "int64"), ((7, 3, 12), "float32")], False),
    ("tests/fixtures/heldout/fcn_charrnn.py", "model", [((1, 3, 70, 90), "float32")], True),
    ("tests/fixtures/heldout/fcn_charrnn.py", "FCN8s(n_class=21, widths=(8, 16, 32, 32, 32))", [((2, 3, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/fcn_charrnn.py", "CharRNN()", [((2, 20), "int64")], False),
    ("tests/fixtures/heldout/fcn_charrnn.py", "CharRNN(n_hidden=32, n_layers=1, drop_prob=0.0)", [((3, 5), "int64")], False),
    ("tests/fixtures/heldout/dynamic_names.py", "model", [((2, 3, 64, 64), "float32")], True),
    ("tests/fixtures/heldout/dynamic_names.py", "NamedStages(img=128, base=4, min_size=16, classes=3)",
     [((1, 3, 128, 128), "float32")], False),
    ("tests/fixtures/heldout/stn_im2col.py", "model", [((4, 1, 28, 28), "float32")], True),
    ("tests/fixtures/heldout/stn_im2col.py", "STN(in_ch=3, size=40, classes=5)", [((2, 3, 40, 40), "float32")], False),
    ("tests/fixtures/heldout/stn_im2col.py", "Im2ColConv()", [((2, 3, 17, 21), "float32")], False),
    ("tests/fixtures/heldout/python_idioms.py", "model", [((2, 3, 32, 32), "float32")], True),
    ("tests/fixtures/heldout/python_idioms.py", "IdiomNet(img=64, min_size=2, classes=4)", [((1, 3, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/layer_zoo.py", "model", [((2, 3, 12, 10), "float32")], True),
    ("tests/fixtures/heldout/layer_zoo.py", "PairZoo()", [((3, 5), "int64"), ((3, 5), "int64")], False),
    ("tests/fixtures/heldout/container_edits.py", "model", [((2, 3, 10, 9), "float32")], True),
    ("tests/fixtures/heldout/container_edits.py", "Edited(c=5)", [((3, 3, 7, 12), "float32")], False),
    ("tests/fixtures/heldout/version_checks.py", "model", [((2, 16, 32), "float32")], True),
    ("tests/fixtures/heldout/version_checks.py", "CausalSelfAttention(n_embd=24, n_head=3, block_size=12, force_slow=True)",
     [((3, 10, 24), "float32")], False),
    ("tests/fixtures/heldout/by_name.py", "model", [((2, 3, 32, 32), "float32")], True),
    ("tests/fixtures/heldout/by_name.py", "Grouped(plan=[('a', 8), ('b', 8), ('b', 12)], num_classes=3)",
     [((1, 3, 24, 40), "float32")], False),
    ("tests/fixtures/heldout/by_name.py", "vit384", [((1, 3, 384, 384), "float32")], False),
    ("tests/fixtures/heldout/by_name.py", "timm.create_model('crossvit_tiny_240', num_classes=4)", [((2, 3, 240, 240), "float32")], False),
    ("tests/fixtures/heldout/by_name.py", "timm.create_model('vit_tiny_patch16_224.augreg_in21k')", [((1, 3, 224, 224), "float32")], False),
    # Round 3: timm.create_model entry points across timm's families with non-default
    # arguments (feature extraction by hooks, FX and intermediates included), and probes
    # in styles not covered before (YOLO-style eval'd tables, LLaMA with complex rotary
    # embeddings, match statements, try/except ImportError fallbacks, a model package,
    # framework wrappers, decorated methods, forward hooks, hand-written rearranges).
    ("tests/fixtures/heldout/timm_zoo.py", "model", [((2, 3, 64, 64), "float32")], True),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('seresnext26d_32x4d', drop_rate=0.2)", [((1, 3, 96, 96), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('resnetv2_50', num_classes=5)", [((1, 3, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('resnet18d', in_chans=4, output_stride=16)", [((1, 4, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('resnet34', output_stride=8)", [((1, 3, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('res2net50_26w_4s')", [((1, 3, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('resnest14d')", [((1, 3, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('skresnet18')", [((1, 3, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('regnety_002', num_classes=0, global_pool='')", [((2, 3, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('efficientnet_b1', num_classes=3, drop_path_rate=0.2)", [((1, 3, 96, 96), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('efficientnet_b3', global_pool='avgmax')", [((1, 3, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('tf_efficientnet_b0')", [((1, 3, 65, 77), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('mobilenetv3_large_100', in_chans=1, num_classes=10)", [((2, 1, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('mobilenetv4_conv_small')", [((1, 3, 96, 96), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('ghostnet_100', num_classes=7)", [((1, 3, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('rexnet_100')", [((1, 3, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('dla34', num_classes=4)", [((1, 3, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('dpn68')", [((1, 3, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('hrnet_w18_small', num_classes=6)", [((1, 3, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('cspresnet50', num_classes=2)", [((1, 3, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('darknet53')", [((1, 3, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('vgg11', num_classes=10)", [((1, 3, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('inception_v3', num_classes=5)", [((1, 3, 107, 107), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('xception41')", [((1, 3, 96, 96), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('convnextv2_atto', num_classes=3)", [((2, 3, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('deit_tiny_patch16_224', img_size=96, num_classes=10)", [((2, 3, 96, 96), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('vit_small_patch16_224', dynamic_img_size=True, num_classes=3)", [((1, 3, 160, 128), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('vit_tiny_patch16_224', class_token=False, global_pool='avg', reg_tokens=4)", [((1, 3, 224, 224), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('vit_tiny_patch16_224', global_pool='map')", [((1, 3, 224, 224), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('eva02_tiny_patch14_224')", [((1, 3, 224, 224), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('swin_tiny_patch4_window7_224', img_size=160, window_size=5)", [((1, 3, 160, 160), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('levit_128s')", [((1, 3, 224, 224), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('resmlp_12_224')", [((1, 3, 224, 224), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('coat_lite_tiny')", [((1, 3, 224, 224), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('poolformer_s12', num_classes=4)", [((1, 3, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('efficientformer_l1')", [((1, 3, 224, 224), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('edgenext_xx_small')", [((1, 3, 256, 256), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('tiny_vit_5m_224', window_sizes=(7, 7, 7, 7))", [((1, 3, 224, 224), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('fastvit_t8')", [((1, 3, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('fasternet_t0')", [((1, 3, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('repvit_m1')", [((1, 3, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('mobilevit_xxs', num_classes=10)", [((1, 3, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('mobileone_s0')", [((1, 3, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('pvt_v2_b0')", [((1, 3, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('coatnet_nano_rw_224')", [((1, 3, 224, 224), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('hiera_tiny_224')", [((1, 3, 224, 224), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('efficientvit_b0')", [((1, 3, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('mambaout_femto')", [((1, 3, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('convnext_nano', features_only=True)", [((1, 3, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('resnet50', features_only=True, feature_cls='hook')", [((1, 3, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('efficientnet_b0', features_only=True, out_indices=(1, 3), feature_location='expansion')", [((1, 3, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('mobilenetv3_large_100', features_only=True, feature_cls='fx')", [((1, 3, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('vit_small_patch16_224', features_only=True)", [((1, 3, 224, 224), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('ecaresnet50d_pruned', num_classes=10)", [((1, 3, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/timm_zoo.py", "timm.create_model('efficientnet_b1_pruned')", [((1, 3, 96, 96), "float32")], False),
    ("tests/fixtures/heldout/yolo_style.py", "model", [((1, 3, 128, 128), "float32")], True),
    ("tests/fixtures/heldout/yolo_style.py", "DetectionModel(nc=3, ch=1)", [((2, 1, 96, 160), "float32")], False),
    ("tests/fixtures/heldout/yolo_style.py", "DetectionModel(cfg={**CFG, 'depth_multiple': 0.67, 'width_multiple': 0.5})", [((1, 3, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/llama_mini.py", "model", [((2, 16), "int64")], True),
    ("tests/fixtures/heldout/llama_mini.py", "Transformer(ModelArgs(dim=48, n_layers=3, n_heads=6, n_kv_heads=2, ffn_dim_multiplier=1.3, multiple_of=16))", [((1, 10), "int64")], False),
    ("tests/fixtures/heldout/llama_mini.py", "Transformer(ModelArgs(n_layers=1, vocab_size=100))", [((3, 1), "int64")], False),
    ("tests/fixtures/heldout/py_styles.py", "model", [((2, 3, 32, 32), "float32")], True),
    ("tests/fixtures/heldout/py_styles.py", "StyleNet(size='tiny', classes=3, in_ch=1)", [((1, 1, 24, 40), "float32")], False),
    ("tests/fixtures/heldout/py_styles.py", "StyleNet('wide_x')", [((2, 3, 48, 48), "float32")], False),
    ("tests/fixtures/heldout/py_styles.py", "BLOCKS['res'](4, 8, 2)", [((2, 4, 16, 16), "float32")], False),
    ("tests/fixtures/heldout/lightning_style.py", "model", [((4, 1, 28, 28), "float32")], True),
    ("tests/fixtures/heldout/lightning_style.py", "LitClassifier(in_ch=3, width=4, classes=7).model", [((2, 3, 32, 32), "float32")], False),
    ("tests/fixtures/heldout/lightning_style.py", "EMAWrapper(ConvNet(width=4))", [((1, 1, 16, 16), "float32")], False),
    ("tests/fixtures/heldout/decorated_methods.py", "model", [((2, 3, 32, 32), "float32")], True),
    ("tests/fixtures/heldout/decorated_methods.py", "DecoratedNet.small()", [((1, 3, 24, 24), "float32"), ((1, 3, 24, 24), "float32")], False),
    ("tests/fixtures/heldout/decorated_methods.py", "MLPHead(12, hidden=6, out_features=2)", [((5, 12), "float32")], False),
    ("tests/fixtures/heldout/containers_cond.py", "model", [((2, 3, 32, 32), "float32")], True),
    ("tests/fixtures/heldout/containers_cond.py", "TableNet(in_ch=1, classes=2, act='silu', residual_scale=2.0)", [((1, 1, 20, 28), "float32")], False),
    ("tests/fixtures/heldout/containers_cond.py", "TableNet(act=None)", [((1, 3, 16, 16), "float32")], False),
    ("tests/fixtures/heldout/containers_cond.py", "ListArith()", [((2, 3, 16, 16), "float32")], False),
    ("tests/fixtures/heldout/containers_cond.py", "ListArith(widths=(6,), pool=False, dropout=0.5)", [((1, 3, 9, 9), "float32")], False),
    ("tests/fixtures/heldout/containers_cond.py", "Truncated()", [((1, 3, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/outputs_struct.py", "model", [((2, 3, 16, 16), "float32")], True),
    ("tests/fixtures/heldout/outputs_struct.py", "MultiOut(width=4, classes=5)", [((1, 3, 9, 11), "float32")], False),
    ("tests/fixtures/heldout/outputs_struct.py", "Ordered()", [((3, 6), "float32")], False),
    ("tests/fixtures/heldout/outputs_struct.py", "DataclassOut()", [((2, 9, 5), "float32")], False),
    ("tests/fixtures/heldout/hooks_checkpoint.py", "model", [((2, 3, 32, 32), "float32")], True),
    ("tests/fixtures/heldout/hooks_checkpoint.py", "HookedNet(c=4, depth=2, classes=3, use_checkpoint=False)", [((1, 3, 20, 24), "float32")], False),
    ("tests/fixtures/heldout/hooks_checkpoint.py", "FeatureTap(HookedNet(c=4, depth=2))", [((1, 3, 16, 16), "float32")], False),
    ("tests/fixtures/heldout/einops_manual.py", "model", [((2, 3, 16, 16), "float32")], True),
    ("tests/fixtures/heldout/einops_manual.py", "RearrangeNet(in_ch=1, patch=2, dim=16, heads=2, window=4, img=16)", [((1, 1, 16, 16), "float32")], False),
    ("tests/fixtures/heldout/einops_manual.py", "HandAttention(24, 3)", [((2, 5, 24), "float32")], False),
    ("tests/fixtures/heldout/gan_mlp.py", "generator", [((4, 32), "float32")], True),
    ("tests/fixtures/heldout/gan_mlp.py", "Generator(latent_dim=8, img_shape=(3, 8, 8))", [((2, 8), "float32")], False),
    ("tests/fixtures/heldout/gan_mlp.py", "Discriminator()", [((3, 1, 16, 16), "float32")], False),
    ("tests/fixtures/heldout/gan_mlp.py", "CondGenerator()", [((2, 32), "float32"), ((2,), "int64")], False),
    ("tests/fixtures/heldout/gan_mlp.py", "ConvDiscriminator()", [((2, 1, 16, 16), "float32")], False),
    ("tests/fixtures/heldout/gan_mlp.py", "ConvDiscriminator(channels=3, img_size=32)", [((2, 3, 32, 32), "float32")], False),
    ("tests/fixtures/heldout/pkg_entry.py", "model", [((2, 3, 32, 32), "float32")], True),
    ("tests/fixtures/heldout/pkg_entry.py", "small", [((1, 1, 24, 24), "float32")], False),
    ("tests/fixtures/heldout/pkg_entry.py", "MobileLite(width_mult=0.75, act='relu')", [((1, 3, 48, 48), "float32")], False),
    ("tests/fixtures/heldout/pkg_entry.py", "zoo_pkg.build_model('mobile_lite', num_classes=3)", [((2, 3, 32, 32), "float32")], False),
    ("tests/fixtures/heldout/zoo_pkg/nets/mobile.py", "model", [((1, 3, 64, 64), "float32")], True),
    ("tests/fixtures/heldout/zoo_pkg/nets/tiny_resnet.py", "tiny_resnet14(num_classes=4)", [((1, 3, 32, 32), "float32")], False),
    ("tests/fixtures/heldout/finetune_surgery.py", "model", [((2, 6, 16), "float32")], True),
    ("tests/fixtures/heldout/finetune_surgery.py", "inject_lora(TinyEncoder(dim=8, depth=1), targets=('proj',), r=3)", [((1, 4, 8), "float32")], False),
    ("tests/fixtures/heldout/finetune_surgery.py", "grayscale_resnet()", [((2, 1, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/finetune_surgery.py", "mobilenet_head()", [((1, 4, 96, 96), "float32")], False),
    ("tests/fixtures/heldout/finetune_surgery.py", "pruned_mlp()", [((3, 8), "float32")], False),
    ("tests/fixtures/heldout/hf_style.py", "model", [((2, 12), "int64")], True),
    ("tests/fixtures/heldout/hf_style.py",
     "MiniBertModel(MiniBertConfig(hidden_size=24, num_attention_heads=3, hidden_act='gelu_new', chunk_size_feed_forward=4, num_hidden_layers=1), add_pooling_layer=False)",
     [((1, 8), "int64"), ((1, 8), "int64")], False),
    ("tests/fixtures/heldout/hf_style.py", "MiniBertForSequenceClassification(MiniBertConfig(hidden_act='silu', output_hidden=True), num_labels=5)",
     [((3, 7), "int64")], False),
    ("tests/fixtures/heldout/diffusion_unet.py", "model", [((2, 3, 32, 32), "float32"), ((2,), "int64")], True),
    ("tests/fixtures/heldout/diffusion_unet.py",
     "UNetModel(in_channels=1, model_channels=32, out_channels=1, num_res_blocks=2, attention_resolutions=(1, 4), channel_mult=(1, 2, 2), use_scale_shift_norm=True, learn_sigma=True)",
     [((1, 1, 16, 16), "float32"), ((1,), "int64")], False),
    ("tests/fixtures/heldout/fx_traced.py", "model", [((2, 3, 32, 32), "float32")], True),
    ("tests/fixtures/heldout/fx_traced.py", "CallOverride(torch.fx.symbolic_trace(Backbone(width=4, classes=2)))", [((1, 3, 16, 16), "float32")], False),
    ("tests/fixtures/heldout/fx_traced.py", "Backbone()", [((1, 3, 16, 16), "float32")], False),
    # Round 4: papers as researchers and students re-implement them.
    ("tests/fixtures/heldout/pointnet.py", "model", [((4, 3, 256), "float32")], True),
    ("tests/fixtures/heldout/pointnet.py", "PointNetCls(k=5, feature_transform=True, dropout=0.3)", [((2, 3, 100), "float32")], False),
    ("tests/fixtures/heldout/pointnet.py", "PointNetSeg(num_parts=6)", [((2, 3, 64), "float32")], False),
    ("tests/fixtures/heldout/vae.py", "model", [((8, 3, 64, 64), "float32")], True),
    ("tests/fixtures/heldout/vae.py", "ConvVAE(in_channels=1, latent_dim=16, hidden_dims=[8, 16, 32], img_size=32)", [((2, 1, 32, 32), "float32")], False),
    ("tests/fixtures/heldout/vae.py", "MLPVAE(x_dim=256, h_dim=64, z_dim=8)", [((3, 1, 16, 16), "float32")], False),
    ("tests/fixtures/heldout/wgan_gp.py", "netG", [((16, 100, 1, 1), "float32")], True),
    ("tests/fixtures/heldout/wgan_gp.py", "Generator({'nz': 32, 'ngf': 16, 'ndf': 16, 'nc': 1, 'image_size': 32})", [((2, 32), "float32")], False),
    ("tests/fixtures/heldout/wgan_gp.py", "Critic(dict(CONFIG, ndf=8, image_size=32))", [((2, 3, 32, 32), "float32")], False),
    ("tests/fixtures/heldout/super_res.py", "model", [((1, 3, 32, 32), "float32")], True),
    ("tests/fixtures/heldout/super_res.py", "RRDBNet(in_nc=1, out_nc=1, nf=16, nb=1, gc=8, scale=2, upsample='nearest')", [((2, 1, 12, 20), "float32")], False),
    ("tests/fixtures/heldout/super_res.py", "SRResNet(n_blocks=3, channels=16, scale=4)", [((1, 3, 16, 16), "float32")], False),
    ("tests/fixtures/heldout/super_res.py", "SRDiscriminator(base=16, fc_size=64)", [((2, 3, 96, 96), "float32")], False),
    ("tests/fixtures/heldout/gnn.py", "model", [((30, 16), "float32"), ((30, 30), "float32")], True),
    ("tests/fixtures/heldout/gnn.py", "GCN(nfeat=8, nhid=12, nclass=3, n_layers=3)", [((10, 8), "float32"), ((10, 10), "float32")], False),
    ("tests/fixtures/heldout/gnn.py", "SparseGCN(nfeat=6, nhid=10, nclass=4)", [((9, 6), "float32"), ((2, 25), "int64")], False),
    ("tests/fixtures/heldout/gnn.py", "GraphClassifier()", [((12, 8), "float32"), ((2, 40), "int64")], False),
    ("tests/fixtures/heldout/gnn.py", "GraphClassifier(in_dim=5, hidden=16, num_classes=2, depth=2, aggr='mean')", [((7, 5), "float32"), ((2, 20), "int64")], False),
    ("tests/fixtures/heldout/seq2seq_bahdanau.py", "model", [((11, 4), "int64"), ((7, 4), "int64")], True),
    ("tests/fixtures/heldout/seq2seq_bahdanau.py", "build(src_vocab=50, trg_vocab=30, emb=8, enc_hid=12, dec_hid=10)", [((5, 2), "int64"), ((4, 2), "int64")], False),
    ("tests/fixtures/heldout/lm_tied.py", "model", [((4, 35), "int64")], True),
    ("tests/fixtures/heldout/lm_tied.py", "RNNModel('GRU', 100, 32, 48, 1, dropout=0.2)", [((2, 9), "int64")], False),
    ("tests/fixtures/heldout/lm_tied.py", "RNNModel('RNN_RELU', 60, 16, 16, 3, tie_weights=True, pad_idx=59)", [((3, 5), "int64")], False),
    ("tests/fixtures/heldout/capsnet.py", "CapsNet()", [((2, 1, 28, 28), "float32")], False),
    ("tests/fixtures/heldout/capsnet.py", "CapsNet({'channels': 3, 'img_size': 24, 'conv_out': 32, 'primary_maps': 8, 'num_classes': 5, 'routing_iters': 2})", [((1, 3, 24, 24), "float32")], False),
    ("tests/fixtures/heldout/effnet_hand.py", "MobileNetV2(num_classes=10, width_mult=0.35)", [((2, 3, 96, 96), "float32")], False),
    ("tests/fixtures/heldout/effnet_hand.py", "EfficientNet(width_coefficient=0.5, depth_coefficient=1.2, num_classes=7)", [((1, 3, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/resnext_hand.py", "resnext_small(num_classes=10, dataset='cifar')", [((2, 3, 32, 32), "float32")], False),
    ("tests/fixtures/heldout/resnext_hand.py", "ResNeXt(ResNeXtBottleneck, [1, 1, 1, 1], cardinality=4, base_width=8, num_classes=5)", [((1, 3, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/swin_convnext.py", "SwinStage(dim=32, input_resolution=(16, 16), depth=2, num_heads=2, window_size=4)", [((2, 256, 32), "float32")], False),
    ("tests/fixtures/heldout/swin_convnext.py", "SwinStage(dim=16, input_resolution=(6, 6), depth=2, num_heads=4, window_size=7, downsample=False)", [((1, 36, 16), "float32")], False),
    ("tests/fixtures/heldout/swin_convnext.py", "ConvNeXt(in_chans=1, num_classes=4, depths=[1, 1, 2, 1], dims=[8, 16, 24, 32], layer_scale_init_value=0.1)", [((2, 1, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/swin_convnext.py", "ConvNeXt(depths=(1, 1, 1, 1), dims=(8, 8, 16, 16), layer_scale_init_value=0)", [((1, 3, 32, 48), "float32")], False),
    ("tests/fixtures/heldout/tcn_wavenet.py", "TCNClassifier(input_size=1, output_size=10, num_channels=(8,) * 4, kernel_size=3)", [((2, 1, 60), "float32")], False),
    ("tests/fixtures/heldout/tcn_wavenet.py", "TemporalConvNet(5, [16, 16, 8], kernel_size=2)", [((3, 5, 40), "float32")], False),
    ("tests/fixtures/heldout/tcn_wavenet.py", "WaveNet(quantization=32, layers=6, stacks=2, residual_channels=8, gate_channels=16, skip_channels=12)", [((2, 50), "int64")], False),
    ("tests/fixtures/heldout/tcn_wavenet.py", "WaveNet(quantization=16, layers=4, stacks=1, residual_channels=8, gate_channels=8, skip_channels=8, kernel_size=3, cond_channels=5)", [((1, 20), "int64"), ((1, 5, 20), "float32")], False),
    ("tests/fixtures/heldout/unetpp.py", "NestedUNet(num_classes=3, input_channels=1, nb_filter=(8, 16, 32, 64))", [((1, 1, 32, 32), "float32")], False),
    ("tests/fixtures/heldout/unetpp.py", "NestedUNet(2, deep_supervision=True, nb_filter=[4, 8, 16, 32, 64])", [((2, 3, 48, 64), "float32")], False),
    ("tests/fixtures/heldout/perceiver_mixer.py", "Perceiver(input_channels=6, depth=2, num_latents=16, latent_dim=32, latent_heads=2, num_classes=5)", [((2, 50, 6), "float32")], False),
    ("tests/fixtures/heldout/perceiver_mixer.py", "Perceiver(input_channels=3, input_axis=2, num_freq_bands=4, depth=1, num_latents=8, latent_dim=16, cross_heads=2, self_per_cross_attn=1)", [((1, 8, 6, 3), "float32")], False),
    ("tests/fixtures/heldout/perceiver_mixer.py", "MLPMixer(image_size=32, patch_size=4, dim=64, depth=2, token_dim=32, channel_dim=128, num_classes=10)", [((2, 3, 32, 32), "float32")], False),
    ("tests/fixtures/heldout/perceiver_mixer.py", "MLPMixer(in_channels=1, image_size=28, patch_size=7, dim=16, depth=1, token_dim=8, channel_dim=32)", [((3, 1, 28, 28), "float32")], False),
    ("tests/fixtures/heldout/contrastive.py", "SimCLR(projection_dim=32, widths=(16, 32))", [((4, 3, 32, 32), "float32"), ((4, 3, 32, 32), "float32")], False),
    ("tests/fixtures/heldout/contrastive.py", "BYOL(hidden=64, proj=16)", [((2, 3, 32, 32), "float32"), ((2, 3, 32, 32), "float32")], False),
    ("tests/fixtures/heldout/contrastive.py", "MoCo(dim=32, K=256, mlp_head=True)", [((3, 3, 24, 24), "float32"), ((3, 3, 24, 24), "float32")], False),
    ("tests/fixtures/heldout/gan_sagan.py", "Generator(z_dim=32, g_conv_dim=8, num_classes=5)", [((2, 32), "float32"), ((2,), "int64")], False),
    ("tests/fixtures/heldout/gan_sagan.py", "Generator(z_dim=16, g_conv_dim=4, num_classes=3, attn_at=1, n_blocks=2)", [((1, 16), "float32"), ((1,), "int64")], False),
    ("tests/fixtures/heldout/gan_sagan.py", "ProjectionDiscriminator(d_conv_dim=16, num_classes=5)", [((2, 3, 32, 32), "float32"), ((2,), "int64")], False),
    ("tests/fixtures/heldout/gan_sagan.py", "ProjectionDiscriminator(d_conv_dim=8, attn=False)", [((3, 3, 16, 16), "float32"), ((3,), "int64")], False),
    ("tests/fixtures/heldout/vqvae.py", "Model(num_hiddens=32, num_residual_hiddens=8, num_embeddings=64, embedding_dim=16)", [((2, 3, 32, 32), "float32")], False),
    ("tests/fixtures/heldout/vqvae.py", "Model(num_hiddens=16, num_residual_layers=1, num_residual_hiddens=4, num_embeddings=32, embedding_dim=8, decay=0.99, in_channels=1)", [((1, 1, 28, 28), "float32")], False),
    ("tests/fixtures/heldout/nerf_pixelcnn.py", "NeRF(D=4, W=64, multires=6, multires_views=2, skips=[2])", [((100, 3), "float32"), ((100, 3), "float32")], False),
    ("tests/fixtures/heldout/nerf_pixelcnn.py", "NeRF(D=3, W=32, multires=4, multires_views=3, skips=[1], use_viewdirs=True)", [((2, 50, 3), "float32"), ((2, 50, 3), "float32")], False),
    ("tests/fixtures/heldout/nerf_pixelcnn.py", "PixelCNN(fm=16, n_layers=3, in_channels=3, levels=8)", [((2, 3, 12, 12), "float32")], False),
    ("tests/fixtures/heldout/nerf_pixelcnn.py", "GatedPixelCNN(c_in=1, c_hidden=8, dilations=(1, 2))", [((1, 1, 16, 16), "float32")], False),
    ("tests/fixtures/heldout/hourglass_cbam.py", "StackedHourglass(nstack=2, inp_dim=32, oup_dim=8, depth=2, increase=8)", [((1, 3, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/hourglass_cbam.py", "CBAMNet(widths=(16, 32, 64), num_classes=5)", [((2, 3, 32, 32), "float32")], False),
    ("tests/fixtures/heldout/hourglass_cbam.py", "AttentionGate(F_g=16, F_l=8, F_int=4)", [((2, 16, 12, 12), "float32"), ((2, 8, 12, 12), "float32")], False),
    ("tests/fixtures/heldout/moe_deit.py", "DistilledViT(img_size=32, patch_size=8, num_classes=10, embed_dim=32, depth=4, num_heads=4, moe_every=2, num_experts=3)", [((2, 3, 32, 32), "float32")], False),
    ("tests/fixtures/heldout/moe_deit.py", "MoE(16, num_experts=5, hidden=24, k=1)", [((3, 7, 16), "float32")], False),
    ("tests/fixtures/heldout/cyclegan.py", "define_G(3, 3, 8, netG='resnet_6blocks', norm='instance')", [((1, 3, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/cyclegan.py", "define_G(1, 2, 4, norm='batch', use_dropout=True, padding_type='replicate')", [((2, 1, 32, 48), "float32")], False),
    ("tests/fixtures/heldout/cyclegan.py", "ResnetGenerator(3, 3, ngf=4, norm_layer=get_norm_layer('none'), n_blocks=1, padding_type='zero')", [((1, 3, 16, 16), "float32")], False),
    ("tests/fixtures/heldout/cyclegan.py", "define_D(6, 8, norm='instance')", [((1, 6, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/cyclegan.py", "define_D(3, 4, netD='n_layers', n_layers_D=5)", [((2, 3, 128, 128), "float32")], False),
    ("tests/fixtures/heldout/dann_legacy.py", "DANN()", [((4, 1, 28, 28), "float32")], False),
    ("tests/fixtures/heldout/dann_legacy.py", "DANN(in_ch=3, n_classes=5, feat=16, hidden=32, img=32)", [((2, 3, 32, 32), "float32")], False),
    ("tests/fixtures/heldout/dann_legacy.py", "LegacyEncoder()", [((3, 9), "int64")], False),
    ("tests/fixtures/heldout/dann_legacy.py", "LegacyEncoder(vocab=20, emb=8, hidden=6, layers=1, wn=False)", [((2, 4), "int64")], False),
    ("tests/fixtures/heldout/maml_hyper.py", "MetaConvNet(in_channels=3, out_features=5, hidden_size=8, feature_size=8 * 2 * 2, n_blocks=3)", [((4, 3, 16, 16), "float32")], False),
    ("tests/fixtures/heldout/maml_hyper.py", "InnerLoop(MetaConvNet(hidden_size=4, feature_size=4, n_blocks=4))", [((2, 1, 28, 28), "float32"), ((3, 1, 28, 28), "float32")], False),
    ("tests/fixtures/heldout/maml_hyper.py", "HyperNet()", [((2, 3, 16, 16), "float32"), ((2,), "int64")], False),
    ("tests/fixtures/heldout/mamba_rwkv.py", "Mamba(vocab_size=50, d_model=16, n_layer=2, d_state=4)", [((2, 7), "int64")], False),
    ("tests/fixtures/heldout/mamba_rwkv.py", "Mamba(vocab_size=64, d_model=32, n_layer=1, expand=1, d_conv=3, dt_rank=4, conv_bias=False, bias=True)", [((1, 5), "int64")], False),
    ("tests/fixtures/heldout/mamba_rwkv.py", "RWKVLite()", [((2, 9), "int64")], False),
    ("tests/fixtures/heldout/gat_settransformer.py", "GAT(nfeat=12, nhid=8, nclass=3, nheads=4)", [((10, 12), "float32"), ((10, 10), "float32")], False),
    ("tests/fixtures/heldout/gat_settransformer.py", "SetTransformer(dim_input=3, num_outputs=2, dim_output=5, num_inds=8, dim_hidden=32, num_heads=4, ln=True)", [((2, 20, 3), "float32")], False),
    ("tests/fixtures/heldout/gat_settransformer.py", "SetTransformer(2, 1, 1, num_inds=4, dim_hidden=16, num_heads=2)", [((3, 11, 2), "float32")], False),
    ("tests/fixtures/heldout/parametrize_custom.py", "ConstrainedMLP()", [((5, 16), "float32")], False),
    ("tests/fixtures/heldout/parametrize_custom.py", "ConstrainedMLP(dim=6, hidden=10, out=2, ortho=False)", [((2, 3, 6), "float32")], False),
    ("tests/fixtures/heldout/ssd_lite.py", "SSD('tiny', num_classes=5)", [((2, 3, 96, 96), "float32")], False),
    ("tests/fixtures/heldout/ssd_lite.py", "SSD('small', num_classes=3, batch_norm=True)", [((1, 3, 150, 150), "float32")], False),
    ("tests/fixtures/heldout/crnn_cbhg.py", "CRNN(32, 1, 37, 64)", [((2, 1, 32, 100), "float32")], False),
    ("tests/fixtures/heldout/crnn_cbhg.py", "CRNN(32, 3, 11, 32, n_rnn=3, leakyRelu=True)", [((1, 3, 32, 80), "float32")], False),
    ("tests/fixtures/heldout/crnn_cbhg.py", "CBHG(32, K=4, projections=[64, 48])", [((2, 15, 32), "float32")], False),
    ("tests/fixtures/heldout/detr_mini.py", "DETR(num_classes=5, hidden_dim=32, nheads=2, num_encoder_layers=1, num_decoder_layers=2, num_queries=7, backbone_width=8)", [((2, 3, 64, 48), "float32")], False),
    ("tests/fixtures/heldout/fno.py", "FNO2d(modes1=4, modes2=3, width=8, n_layers=2, padding=3)", [((2, 16, 12, 1), "float32")], False),
    ("tests/fixtures/heldout/fno.py", "FNO1d(modes=5, width=12)", [((3, 32, 1), "float32")], False),
    ("tests/fixtures/heldout/audio_stft.py", "KeywordSpotter()", [((2, 16000), "float32")], False),
    ("tests/fixtures/heldout/audio_stft.py", "KeywordSpotter(n_classes=5, n_mels=32, channels=(8, 16, 16), hidden=24, n_fft=256, hop_length=128, center=False)", [((3, 8000), "float32")], False),
    ("tests/fixtures/heldout/pspnet_aspp.py", "SegNet(num_classes=5, width=8)", [((2, 3, 65, 65), "float32")], False),
    ("tests/fixtures/heldout/pspnet_aspp.py", "SegNet(num_classes=3, width=8, head='aspp', zoom_factor=1)", [((1, 3, 48, 64), "float32")], False),
    ("tests/fixtures/heldout/pspnet_aspp.py", "MultiScale(SegNet(num_classes=4, width=8, bins=(1, 3)))", [((1, 3, 57, 73), "float32")], False),
    ("tests/fixtures/heldout/darts_cell.py", "Network(C=4, num_classes=10, layers=3, steps=2, multiplier=2)", [((2, 3, 16, 16), "float32")], False),
    ("tests/fixtures/heldout/glow_flows.py", "GlowBlock(3, n_flow=2, filter_size=16)", [((2, 3, 16, 16), "float32")], False),
    ("tests/fixtures/heldout/glow_flows.py", "GlowBlock(1, n_flow=1, affine=False, conv_lu=False, filter_size=8)", [((1, 1, 8, 12), "float32")], False),
    ("tests/fixtures/heldout/glow_flows.py", "RealNVP(dim=5, hidden=16, n_couplings=3)", [((7, 5), "float32")], False),
    ("tests/fixtures/heldout/research_config.py", "build('cnn', num_classes=7, img=64)", [((2, 3, 64, 64), "float32")], False),
    ("tests/fixtures/heldout/research_config.py", "build('cnn_attr')", [((1, 1, 28, 28), "float32")], False),
    ("tests/fixtures/heldout/research_config.py", "build('cnn_ns', img=16)", [((3, 3, 16, 16), "float32")], False),
    ("tests/fixtures/heldout/research_config.py", "build('mlp', hidden=[16, 24, 12], norm='none')", [((5, 8), "float32")], False),
    ("tests/fixtures/heldout/research_config.py", "ConfigMLP()", [((2, 4, 8), "float32")], False),
    ("tests/fixtures/heldout/losses_dists.py", "LossHeadClassifier()", [((6, 20), "float32"), ((6,), "int64")], False),
    ("tests/fixtures/heldout/losses_dists.py", "LossHeadClassifier(in_dim=8, n_classes=3, smoothing=0.0, reduction='none')", [((4, 8), "float32"), ((4,), "int64")], False),
    ("tests/fixtures/heldout/losses_dists.py", "Distiller()", [((5, 16), "float32"), ((5,), "int64")], False),
    ("tests/fixtures/heldout/losses_dists.py", "TinyLM()", [((2, 12), "int64"), ((2, 12), "int64")], False),
    ("tests/fixtures/heldout/losses_dists.py", "TinyLM(vocab=20, dim=8, block=8)", [((3, 5), "int64")], False),
    ("tests/fixtures/heldout/losses_dists.py", "GaussianVAE()", [((7, 32), "float32")], False),
    ("tests/fixtures/heldout/losses_dists.py", "GumbelVAE(x_dim=20, n_latent=3, n_cat=4)", [((2, 20), "float32")], False),
]

# Other entry points and input sizes than the builders' defaults: keyword arguments that
# change the architecture, batch sizes above 1, small and non-square inputs.
# (builder module under torchvision.models, entry, input shape)
TORCHVISION_VARIANTS = [
    ("resnet", "resnet18(num_classes=10)", (2, 3, 32, 32)),
    ("resnet", "resnet50(replace_stride_with_dilation=[False, True, True])", (1, 3, 224, 224)),
    ("resnet", "ResNet(BasicBlock, [1, 1, 1, 1], num_classes=7, zero_init_residual=True)", (2, 3, 64, 96)),
    ("densenet", "DenseNet(growth_rate=12, block_config=(2, 3, 4, 2), num_init_features=32)", (2, 3, 64, 64)),
    ("vgg", "vgg11_bn(num_classes=10)", (4, 3, 32, 32)),
    ("squeezenet", "squeezenet1_1(num_classes=10)", (3, 3, 64, 80)),
    ("mobilenetv3", "mobilenet_v3_small(num_classes=10, dropout=0.5)", (2, 3, 96, 128)),
    ("efficientnet", "efficientnet_b0(num_classes=10)", (2, 3, 128, 128)),
    ("convnext", "convnext_tiny(num_classes=10)", (2, 3, 64, 64)),
    ("regnet", "regnet_y_400mf()", (1, 3, 128, 160)),
    ("shufflenetv2", "shufflenet_v2_x0_5(num_classes=10)", (3, 3, 96, 96)),
    ("googlenet", "googlenet(aux_logits=False, init_weights=True)", (2, 3, 112, 112)),
    ("inception", "inception_v3(aux_logits=False, init_weights=False)", (2, 3, 299, 299)),
    ("vision_transformer", "vit_b_16(image_size=96, num_classes=10)", (2, 3, 96, 96)),
    ("swin_transformer", "swin_t(num_classes=10)", (1, 3, 112, 112)),
    ("segmentation.fcn", "fcn_resnet50(weights_backbone=None, aux_loss=True, num_classes=5)", (1, 3, 128, 96)),
    ("video.mvit", "mvit_v1_b()", (1, 3, 16, 224, 224)),
    # Held-out entry points: other builders of the same files, other files (segmentation
    # heads, video ResNets, S3D), non-default input sizes and batch sizes.
    ("resnet", "resnet50()", (1, 3, 160, 160)),
    ("resnet", "wide_resnet50_2(num_classes=10)", (2, 3, 64, 64)),
    ("efficientnet", "efficientnet_b0()", (2, 3, 256, 256)),
    ("efficientnet", "efficientnet_v2_s(num_classes=10)", (1, 3, 128, 128)),
    ("mobilenetv2", "mobilenet_v2(width_mult=0.75, num_classes=10)", (2, 3, 96, 96)),
    ("vgg", "vgg16()", (1, 3, 64, 64)),
    ("alexnet", "alexnet(num_classes=10)", (1, 3, 100, 100)),
    ("squeezenet", "squeezenet1_0()", (2, 3, 97, 113)),
    ("googlenet", "googlenet(transform_input=True, aux_logits=False, init_weights=False)", (1, 3, 224, 224)),
    ("densenet", "densenet121(memory_efficient=True)", (1, 3, 96, 96)),
    ("shufflenetv2", "shufflenet_v2_x1_0(num_classes=10)", (2, 3, 160, 128)),
    ("mnasnet", "mnasnet0_5(num_classes=10)", (1, 3, 128, 96)),
    ("regnet", "regnet_x_400mf(num_classes=10)", (2, 3, 96, 96)),
    ("convnext", "convnext_small(stochastic_depth_prob=0.2)", (1, 3, 96, 128)),
    ("swin_transformer", "swin_t()", (1, 3, 160, 224)),
    ("swin_transformer", "swin_v2_t(num_classes=10)", (1, 3, 256, 256)),
    ("vision_transformer", "vit_b_32(image_size=256)", (2, 3, 256, 256)),
    ("vision_transformer", "vit_b_16(image_size=224)", (1, 3, 224, 224)),
    ("segmentation.deeplabv3", "deeplabv3_resnet50(num_classes=21, weights_backbone=None)", (1, 3, 224, 224)),
    ("segmentation.deeplabv3", "deeplabv3_mobilenet_v3_large(weights_backbone=None)", (1, 3, 224, 224)),
    ("segmentation.lraspp", "lraspp_mobilenet_v3_large(weights_backbone=None)", (1, 3, 224, 224)),
    ("segmentation.fcn", "fcn_resnet101(aux_loss=True, weights_backbone=None)", (1, 3, 160, 160)),
    ("video.resnet", "r3d_18()", (1, 3, 8, 112, 112)),
    ("video.resnet", "r2plus1d_18(num_classes=10)", (2, 3, 4, 64, 64)),
    ("video.resnet", "mc3_18()", (1, 3, 8, 112, 112)),
    ("video.s3d", "s3d()", (1, 3, 16, 224, 224)),
    ("video.swin_transformer", "swin3d_t()", (1, 3, 8, 112, 112)),
    ("video.mvit", "mvit_v2_s()", (1, 3, 16, 224, 224)),
    ("quantization.mobilenetv2", "mobilenet_v2(quantize=False)", (1, 3, 224, 224)),
    ("quantization.resnet", "resnet18(quantize=False, num_classes=10)", (2, 3, 64, 64)),
    ("quantization.mobilenetv3", "mobilenet_v3_large(quantize=False)", (1, 3, 224, 224)),
    ("quantization.shufflenetv2", "shufflenet_v2_x0_5(quantize=False)", (1, 3, 224, 224)),
    ("quantization.googlenet", "googlenet(quantize=False, aux_logits=False, init_weights=False)", (1, 3, 224, 224)),
    ("quantization.inception", "inception_v3(quantize=False, aux_logits=False, init_weights=False)", (1, 3, 299, 299)),
    ("optical_flow.raft", "raft_small()", ((1, 3, 128, 160), (1, 3, 128, 160))),
    ("detection.faster_rcnn", "fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None).backbone", (1, 3, 224, 256)),
    ("detection.backbone_utils", "resnet_fpn_backbone(backbone_name='resnet18', weights=None, trainable_layers=3)",
     (2, 3, 128, 128)),
    ("detection.retinanet", "retinanet_resnet50_fpn_v2(weights=None, weights_backbone=None).backbone", (1, 3, 160, 160)),
    ("detection.ssdlite", "ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None).backbone", (1, 3, 320, 320)),
    ("detection.fcos", "fcos_resnet50_fpn(weights=None, weights_backbone=None).backbone", (1, 3, 128, 192)),
    ("mobilenetv3", "mobilenet_v3_large(width_mult=0.5, dropout=0.5, num_classes=20)", (2, 3, 160, 160)),
    ("vision_transformer", "vit_b_16(image_size=384)", (1, 3, 384, 384)),
    ("swin_transformer", "swin_v2_s()", (1, 3, 200, 264)),
    ("maxvit", "maxvit_t(num_classes=10)", (2, 3, 224, 224)),
    # Round 2 of held-out entry points.
    ("resnet", "resnext50_32x4d(num_classes=5)", (2, 3, 96, 96)),
    ("resnet", "resnet18(num_classes=7, zero_init_residual=True)", (1, 3, 100, 100)),
    ("resnet", "resnet152()", (1, 3, 64, 64)),
    ("mobilenetv2", "mobilenet_v2(width_mult=0.5)", (1, 3, 224, 224)),
    ("mobilenetv3", "mobilenet_v3_small(num_classes=3)", (2, 3, 160, 120)),
    ("efficientnet", "efficientnet_b3(num_classes=4)", (1, 3, 200, 200)),
    ("efficientnet", "efficientnet_v2_s()", (1, 3, 224, 224)),
    ("alexnet", "alexnet()", (3, 3, 224, 224)),
    ("vgg", "vgg11_bn(num_classes=2)", (2, 3, 80, 64)),
    ("squeezenet", "squeezenet1_0(num_classes=3, dropout=0.2)", (1, 3, 111, 111)),
    ("regnet", "regnet_y_800mf(num_classes=4)", (2, 3, 96, 112)),
    ("densenet", "densenet169(num_classes=3, drop_rate=0.2)", (1, 3, 112, 112)),
    ("densenet", "densenet201()", (1, 3, 64, 64)),
    ("googlenet", "googlenet(aux_logits=True, init_weights=False)", (1, 3, 224, 224)),
    ("inception", "inception_v3(aux_logits=True, init_weights=False)", (1, 3, 342, 342)),
    ("shufflenetv2", "shufflenet_v2_x2_0(num_classes=5)", (1, 3, 128, 128)),
    ("mnasnet", "mnasnet1_3(dropout=0.5)", (1, 3, 160, 160)),
    ("convnext", "convnext_base(num_classes=3)", (1, 3, 64, 64)),
    ("swin_transformer", "swin_s(num_classes=4)", (1, 3, 224, 224)),
    ("swin_transformer", "swin_b()", (1, 3, 96, 96)),
    ("vision_transformer", "vit_l_32(num_classes=10)", (1, 3, 224, 224)),
    ("segmentation.deeplabv3", "deeplabv3_resnet101(weights_backbone=None, aux_loss=True, num_classes=3)", (1, 3, 97, 131)),
    ("segmentation.lraspp", "lraspp_mobilenet_v3_large(weights_backbone=None, num_classes=3)", (2, 3, 129, 97)),
    ("segmentation.fcn", "fcn_resnet50(weights_backbone=None)", (1, 3, 97, 131)),
    ("detection.mask_rcnn", "maskrcnn_resnet50_fpn(weights=None, weights_backbone=None).backbone", (1, 3, 128, 128)),
    ("detection.faster_rcnn", "fasterrcnn_mobilenet_v3_large_fpn(weights=None, weights_backbone=None).backbone",
     (1, 3, 224, 224)),
    ("quantization.resnet", "resnext101_32x8d(quantize=False)", (1, 3, 64, 64)),
    ("optical_flow.raft", "raft_large()", ((1, 3, 128, 128), (1, 3, 128, 128))),
    # Round 2: the model classes themselves with small, non-default configurations.
    ("resnet", "ResNet(Bottleneck, [2, 1, 1, 1], groups=4, width_per_group=16, replace_stride_with_dilation=[False, False, True])",
     (2, 3, 64, 64)),
    ("resnet", "resnet50(replace_stride_with_dilation=[True, True, True], num_classes=3)", (1, 3, 96, 96)),
    ("mobilenetv2", "MobileNetV2(inverted_residual_setting=[[1, 16, 1, 1], [6, 24, 2, 2], [6, 40, 1, 2]], round_nearest=4, width_mult=0.6)",
     (2, 3, 64, 64)),
    ("mobilenetv3", "mobilenet_v3_large(reduced_tail=True, dilated=True, num_classes=5)", (1, 3, 128, 128)),
    ("vision_transformer",
     "VisionTransformer(image_size=64, patch_size=8, num_layers=2, num_heads=2, hidden_dim=32, mlp_dim=64, representation_size=16, num_classes=3)",
     (2, 3, 64, 64)),
    ("convnext", "ConvNeXt(block_setting=[CNBlockConfig(32, 64, 2), CNBlockConfig(64, None, 1)], num_classes=4)", (1, 3, 64, 64)),
    ("efficientnet", "EfficientNet(_efficientnet_conf('efficientnet_b0', width_mult=0.5, depth_mult=0.5)[0], dropout=0.1, num_classes=6)",
     (2, 3, 96, 96)),
    ("swin_transformer", "SwinTransformer(patch_size=[4, 4], embed_dim=32, depths=[2, 2], num_heads=[2, 4], window_size=[4, 4], num_classes=3)",
     (1, 3, 48, 64)),
    ("maxvit", "MaxVit(input_size=(64, 64), stem_channels=16, partition_size=4, block_channels=[32, 64], block_layers=[1, 1], head_dim=16, stochastic_depth_prob=0.1, num_classes=5)",
     (2, 3, 64, 64)),
    ("densenet", "DenseNet(growth_rate=8, block_config=(1, 2), num_init_features=16, bn_size=2, memory_efficient=True, num_classes=3)",
     (2, 3, 48, 48)),
    ("inception", "Inception3(transform_input=True, aux_logits=False, init_weights=False, num_classes=4)", (1, 3, 320, 300)),
    ("googlenet", "GoogLeNet(transform_input=True, aux_logits=True, init_weights=False, num_classes=4)", (2, 3, 96, 128)),
    ("shufflenetv2", "ShuffleNetV2([2, 2, 2], [12, 24, 48, 96, 256], num_classes=7)", (2, 3, 64, 80)),
    ("squeezenet", "SqueezeNet('1_1', num_classes=7)", (1, 3, 100, 120)),
    ("regnet", "RegNet(BlockParams.from_init_params(depth=8, w_0=16, w_a=8.0, w_m=2.0, group_width=8), num_classes=5)",
     (2, 3, 64, 64)),
    ("mnasnet", "MNASNet(0.35, num_classes=4)", (1, 3, 96, 96)),
    ("vgg", "VGG(make_layers(cfgs['A'], batch_norm=True), num_classes=3, init_weights=False, dropout=0.3)", (1, 3, 48, 48)),
    ("swin_transformer", "swin_v2_b(num_classes=3)", (1, 3, 128, 128)),
]

# timm models (opt-in with --with-timm: beyond issue 3's golden set, kept ready for when the
# analyzer is expected to match timm too). (module under timm.models, entry)
TIMM_TARGETS = [
    ("resnet", "resnet18()"),
    ("resnet", "resnet50d()"),
    ("densenet", "densenet121()"),
    ("convnext", "convnext_atto()"),
    ("mlp_mixer", "mixer_s16_224()"),
    ("vision_transformer", "vit_tiny_patch16_224()"),
    ("efficientnet", "efficientnet_b0()"),
    ("mobilenetv3", "mobilenetv3_small_100()"),
    ("regnet", "regnetx_002()"),
]

# Builders whose defaults would download pretrained weights.
TORCHVISION_EXTRA_ARGS = {"fcn_resnet50": "weights_backbone=None"}
TORCHVISION_INPUT_SIZE = {"inception_v3": 299}


def torchvision_targets():
    names = sorted(torchvision.models.list_models(module=torchvision.models)) + ["fcn_resnet50"]
    targets = []
    for name in names:
        builder = torchvision.models.get_model_builder(name)
        module_name = builder.__module__  # e.g. torchvision.models.resnet
        rel = module_name.split(".", 1)[1].replace(".", "/") + ".py"
        size = TORCHVISION_INPUT_SIZE.get(name, 224)
        entry = f"{name}({TORCHVISION_EXTRA_ARGS.get(name, '')})"
        targets.append({
            "golden": f"tv_{name}",
            "file": f"torchvision:{rel}",
            "module": module_name,
            "entry": entry,
            "inputs": [((1, 3, size, size), "float32")],
            "inputs_in_file": False,
        })
    for module, entry, shape in TORCHVISION_VARIANTS:
        # One input shape, or a list of them for models with several inputs (RAFT's two images).
        shapes = shape if isinstance(shape[0], tuple) else [shape]
        size_tag = "_".join("x".join(map(str, s)) for s in shapes)
        targets.append({
            "golden": f"tvv_{module.split('.')[-1]}__{tag(entry)}__{size_tag}",
            "file": f"torchvision:models/{module.replace('.', '/')}.py",
            "module": f"torchvision.models.{module}",
            "entry": entry,
            "inputs": [(s, "float32") for s in shapes],
            "inputs_in_file": False,
        })
    return targets


def timm_targets():
    return [{
        "golden": f"timm_{module}__{tag(entry)}",
        "file": f"timm:models/{module}.py",
        "module": f"timm.models.{module}",
        "entry": entry,
        "inputs": [((1, 3, 224, 224), "float32")],
        "inputs_in_file": False,
    } for module, entry in TIMM_TARGETS]


def tag(entry):
    """A file-name-safe rendering of an entry expression."""
    text = "".join(ch if ch.isalnum() else "_" for ch in entry).strip("_")
    while "__" in text:
        text = text.replace("__", "_")
    return text


def example_targets():
    targets = []
    for prefix, folder, table in (("ex", "examples/", EXAMPLES), ("ho", "tests/fixtures/heldout/", HELDOUT)):
        for rel, entry, inputs, in_file in table:
            stem = rel[len(folder):-len(".py")].replace("/", "_")
            targets.append({
                "golden": f"{prefix}_{stem}__{tag(entry)}",
                "file": rel,
                "module": None,
                "entry": entry,
                "inputs": inputs,
                "inputs_in_file": in_file,
            })
    return targets


def import_file_module(rel_path):
    """Imports a repo file under its package name (walking up __init__.py files), so
    relative imports inside examples/pkg work exactly as they would for a user."""
    path = os.path.join(REPO_ROOT, rel_path)
    directory, filename = os.path.split(path)
    parts = [filename[:-3]]
    while os.path.exists(os.path.join(directory, "__init__.py")):
        directory, package = os.path.split(directory)
        parts.insert(0, package)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    return importlib.import_module(".".join(parts))


def flatten_tensors(value, out):
    if isinstance(value, torch.Tensor):
        out.append(list(value.shape))
    elif isinstance(value, (tuple, list)):
        for item in value:
            flatten_tensors(item, out)
    elif isinstance(value, dict):
        for item in value.values():
            flatten_tensors(item, out)
    return out


def make_inputs(inputs, device):
    tensors = []
    for shape, dtype in inputs:
        if dtype == "bool":
            # Padding masks: nothing padded.
            tensors.append(torch.zeros(shape, dtype=torch.bool, device=device))
        elif dtype == "int64":
            # Token ids: zeros are valid indices for every embedding.
            tensors.append(torch.zeros(shape, dtype=torch.int64, device=device))
        else:
            tensors.append(torch.randn(shape, dtype=getattr(torch, dtype), device=device))
    return tensors


def trace(namespace, target, device):
    with torch.device(device):
        model = eval(target["entry"], namespace)  # noqa: S307 - entries are this file's constants
    model.eval()
    layers = []
    handles = []
    for path, module in model.named_modules():
        if any(True for _ in module.children()):
            continue
        def hook(mod, args, output, path=path):
            layers.append({
                "path": path,
                "type": type(mod).__name__,
                "output": flatten_tensors(output, []),
                # Counted at call time: lazy layers (LazyConv2d, ...) have their parameters only then.
                "params": sum(p.numel() for p in mod.parameters(recurse=False)),
            })

        handles.append(module.register_forward_hook(hook))
    with torch.no_grad():
        output = model(*make_inputs(target["inputs"], device))
    for handle in handles:
        handle.remove()
    params = list(model.parameters())  # parameters() de-duplicates shared tensors
    return {
        "output": flatten_tensors(output, []),
        "params": {
            "total": sum(p.numel() for p in params),
            "trainable": sum(p.numel() for p in params if p.requires_grad),
        },
        "layers": layers,
    }


def write_golden(target, result, device):
    header = {
        "file": target["file"],
        "entry": target["entry"],
        "inputs": [{"shape": list(shape), "dtype": dtype} for shape, dtype in target["inputs"]],
        "inputs_in_file": target["inputs_in_file"],
        "generated_by": f"torch {torch.__version__}, torchvision {torchvision.__version__.split('+')[0]}, "
                        + (f"timm {sys.modules['timm'].__version__}, " if target["file"].startswith("timm:") else "")
                        + f"eval mode, {device} device",
        "output": result["output"],
        "params": result["params"],
    }
    # One layer per line keeps the files small and diffs readable.
    lines = ["{"]
    for key, value in header.items():
        lines.append(f"  {json.dumps(key)}: {json.dumps(value, separators=(', ', ': '))},")
    lines.append('  "layers": [')
    layer_lines = [
        "    " + json.dumps(layer, separators=(",", ":")) for layer in result["layers"]
    ]
    lines.append(",\n".join(layer_lines))
    lines.append("  ]")
    lines.append("}")
    path = os.path.join(OUT_DIR, target["golden"] + ".json")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def main(args):
    os.makedirs(OUT_DIR, exist_ok=True)
    with_timm = "--with-timm" in args
    filters = [arg for arg in args if arg != "--with-timm"]
    targets = example_targets() + torchvision_targets() + (timm_targets() if with_timm else [])
    if filters:
        targets = [t for t in targets if any(f in t["golden"] for f in filters)]
    failures = 0
    for target in targets:
        started = time.time()
        if target["module"]:
            namespace = vars(importlib.import_module(target["module"]))
        else:
            namespace = vars(import_file_module(target["file"]))
        result = None
        used = None
        for device in ("meta", "cpu"):
            try:
                result = trace(namespace, target, device)
                used = device
                break
            except Exception as error:  # meta lacks a kernel or the model needs real data
                print(f"  {target['golden']}: {device} failed ({type(error).__name__}: {error})", file=sys.stderr)
        if result is None:
            failures += 1
            continue
        path = write_golden(target, result, used)
        print(f"{target['golden']}: {len(result['layers'])} layers, {result['params']['total']} params, "
              f"{used}, {time.time() - started:.1f}s -> {os.path.relpath(path, REPO_ROOT)}")
    if failures:
        print(f"{failures} golden(s) failed", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    torch.manual_seed(0)
    # In eval mode without grad, nn.MultiheadAttention and nn.TransformerEncoderLayer may take a
    # fused C++ "fast path" that skips their submodules' forward (so hooks on linear1, norm1,
    # ... would not fire). The goldens record the module-by-module Python semantics that the
    # analyzer follows and that training runs.
    torch.backends.mha.set_fastpath_enabled(False)
    main(sys.argv[1:])
