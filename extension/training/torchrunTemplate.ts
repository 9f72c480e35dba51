// The fixed part of the exported torchrun training script: the Python that reads the constants
// torchrun.ts writes above it. It mirrors the native engine's data semantics (splitmix64 validation
// split, per-sample crop/flip, normalization statistics) and the run store's file formats
// (runStore.ts, train.ts's TrainingEvent, safetensors.ts), so a run launched with torchrun reads
// like a native one. Kept as plain Python text, so what the user reads is what runs.
export const torchrunScriptBody = String.raw`
# ----------------------------------------------------------------------------------------------
# Data: the same samples, split, augmentation and normalization as Netlens's engine.
# ----------------------------------------------------------------------------------------------

MASK64 = (1 << 64) - 1


class SplitMix64:
    """The engine's random numbers (splitmix64), so the validation split and the augmentation match it."""

    def __init__(self, seed):
        self.state = seed & MASK64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def below(self, bound):
        return self.next() % bound


def resolve(path):
    """Paths in DATA and MODEL_FILE may be relative to this script's folder."""
    return path if os.path.isabs(path) else os.path.join(os.path.dirname(os.path.abspath(__file__)), path)


class ImageData:
    """Images as N x C x H x W (uint8 0..255 or float32 as stored), integer labels, class names."""

    def __init__(self, name, images, labels, class_names, mean=None, std=None):
        self.name = name
        self.images = images
        self.labels = np.asarray(labels, dtype=np.int64)
        self.class_names = list(class_names)
        if mean is None:
            mean, std = measured_normalization(images)
        self.mean = np.asarray(mean, dtype=np.float32)
        self.std = np.asarray(std, dtype=np.float32)

    def sample(self, index):
        image = self.images[index]
        if image.dtype == np.uint8:
            return image.astype(np.float32) / np.float32(255.0)  # as torchvision's ToTensor
        return image.astype(np.float32)


def measured_normalization(images, chunk=2048):
    """Per-channel mean and (population) standard deviation over the whole set; a constant channel keeps std 1."""
    channels = images.shape[1]
    sums = np.zeros(channels)
    squares = np.zeros(channels)
    for start in range(0, images.shape[0], chunk):
        block = images[start:start + chunk].astype(np.float64)
        if images.dtype == np.uint8:
            block /= 255.0
        sums += block.sum(axis=(0, 2, 3))
        squares += (block * block).sum(axis=(0, 2, 3))
    values = images.shape[0] * images.shape[2] * images.shape[3]
    mean = sums / values
    variance = np.maximum(0.0, squares / values - mean * mean)
    std = np.where(variance > 1e-12, np.sqrt(variance), 1.0)
    return mean.astype(np.float32), std.astype(np.float32)


def arrays_to_chw(images, layout="auto"):
    """N x H x W (gray), N x C x H x W, or N x H x W x C when the last axis looks like channels."""
    if images.ndim == 3:
        return images[:, None, :, :]
    if images.ndim != 4:
        raise ValueError(f"images have shape {images.shape}; expected N x H x W, N x C x H x W or N x H x W x C")
    channels_last = layout == "nhwc" or (layout == "auto" and images.shape[3] in (1, 3, 4) and images.shape[1] > 4)
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2)) if channels_last else images


def as_image_array(array):
    return array if array.dtype == np.uint8 else array.astype(np.float32)


def class_range(labels):
    return [str(c) for c in range(int(labels.max()) + 1 if len(labels) else 0)]


def read_numpy(paths, options):
    """An .npz archive (arrays x and y, optional class_names) or a pair of .npy files (images, labels)."""
    if len(paths) == 1:
        with np.load(resolve(paths[0])) as archive:
            images = arrays_to_chw(as_image_array(archive[options.get("images_key", "x")]), options.get("layout", "auto"))
            labels = archive[options.get("labels_key", "y")].astype(np.int64)
            names = [str(n) for n in archive["class_names"]] if "class_names" in archive.files else class_range(labels)
    else:
        images = arrays_to_chw(as_image_array(np.load(resolve(paths[0]))), options.get("layout", "auto"))
        labels = np.load(resolve(paths[1])).astype(np.int64)
        names = class_range(labels)
    return ImageData(DATA["name"], images, labels, names)


def read_idx_file(path, rank):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as file:
        raw = file.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08 or raw[3] != rank:
        raise ValueError(f"{path}: not an IDX file of unsigned bytes with {rank} dimensions")
    dims = struct.unpack(">" + "I" * rank, raw[4:4 + 4 * rank])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def first_existing(folder, names):
    for name in names:
        if os.path.isfile(os.path.join(folder, name)):
            return os.path.join(folder, name)
    raise FileNotFoundError(f"{folder}: none of {', '.join(names)} is there")


def read_idx(paths, options):
    """MNIST-style IDX files [images, labels] (optionally .gz), or the folder that holds them."""
    paths = [resolve(p) for p in paths]
    if len(paths) == 1 and os.path.isdir(paths[0]):
        prefix = "t10k" if options.get("split") == "test" else "train"
        paths = [first_existing(paths[0], [f"{prefix}-images-idx3-ubyte", f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-images.idx3-ubyte"]),
                 first_existing(paths[0], [f"{prefix}-labels-idx1-ubyte", f"{prefix}-labels-idx1-ubyte.gz", f"{prefix}-labels.idx1-ubyte"])]
    images = read_idx_file(paths[0], 3)[:, None, :, :]
    labels = read_idx_file(paths[1], 1).astype(np.int64)
    names = [str(c) for c in range(max(9, int(labels.max())) + 1)]
    return ImageData(DATA["name"], images, labels, names, mean=[0.1307], std=[0.3081])


CIFAR10_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def read_name_list(path):
    if not os.path.isfile(path):
        return []
    with open(path) as file:
        return [line.strip() for line in file if line.strip()]


def read_cifar(paths, options):
    """CIFAR-10/100 binary batches (.bin files, or the folder that holds them)."""
    paths = [resolve(p) for p in paths]
    if len(paths) == 1 and os.path.isdir(paths[0]):
        folder = paths[0]
        is100 = os.path.isfile(os.path.join(folder, "train.bin")) or os.path.isfile(os.path.join(folder, "test.bin"))
        test = options.get("split") == "test"
        if is100:
            paths = [first_existing(folder, ["test.bin" if test else "train.bin"])]
        else:
            paths = [first_existing(folder, ["test_batch.bin"])] if test else [first_existing(folder, [f"data_batch_{b}.bin"]) for b in range(1, 6)]
    else:
        is100 = os.path.basename(paths[0]) in ("train.bin", "test.bin")
    label_bytes = 2 if is100 else 1
    records = [np.fromfile(p, dtype=np.uint8).reshape(-1, label_bytes + 3 * 32 * 32) for p in paths]
    table = np.concatenate(records)
    images = np.ascontiguousarray(table[:, label_bytes:].reshape(-1, 3, 32, 32))
    labels = table[:, label_bytes - 1].astype(np.int64)
    folder = os.path.dirname(paths[0])
    if is100:
        names = read_name_list(os.path.join(folder, "fine_label_names.txt"))
        names = names if len(names) == 100 else [f"class {c}" for c in range(100)]
        return ImageData(DATA["name"], images, labels, names, mean=[0.5071, 0.4865, 0.4409], std=[0.2673, 0.2564, 0.2762])
    names = read_name_list(os.path.join(folder, "batches.meta.txt"))
    names = names if len(names) == 10 else CIFAR10_NAMES
    return ImageData(DATA["name"], images, labels, names, mean=[0.4914, 0.4822, 0.4465], std=[0.2470, 0.2435, 0.2616])


def resize_bilinear(pixels, height, width):
    """Bilinear resize of H x W x C bytes sampling at pixel centres (align_corners=False), as the engine does."""
    source_h, source_w = pixels.shape[:2]
    ys = np.clip((np.arange(height) + 0.5) * (source_h / height) - 0.5, 0, source_h - 1)
    xs = np.clip((np.arange(width) + 0.5) * (source_w / width) - 0.5, 0, source_w - 1)
    y0 = ys.astype(np.int64)
    x0 = xs.astype(np.int64)
    y1 = np.minimum(y0 + 1, source_h - 1)
    x1 = np.minimum(x0 + 1, source_w - 1)
    fy = (ys - y0)[:, None, None]
    fx = (xs - x0)[None, :, None]
    p = pixels.astype(np.float64)
    top = p[y0][:, x0] * (1 - fx) + p[y0][:, x1] * fx
    bottom = p[y1][:, x0] * (1 - fx) + p[y1][:, x1] * fx
    return np.floor(np.clip(top * (1 - fy) + bottom * fy, 0, 255) + 0.5).astype(np.uint8)


def read_folder(paths, options):
    """root/<class>/<image>.png|jpg|jpeg, classes in sorted order; decoded with Pillow, resized to the model's input."""
    from PIL import Image  # only image folders need Pillow

    root = resolve(paths[0])
    channels = options.get("channels", 3)
    height, width = options.get("size", [SAMPLE_SHAPE[1], SAMPLE_SHAPE[2]])
    classes = sorted(e for e in os.listdir(root) if os.path.isdir(os.path.join(root, e)) and not e.startswith("."))
    images, labels = [], []
    for label, name in enumerate(classes):
        folder = os.path.join(root, name)
        for file in sorted(os.listdir(folder)):
            if os.path.splitext(file)[1].lower() not in (".png", ".jpg", ".jpeg") or not os.path.isfile(os.path.join(folder, file)):
                continue
            with Image.open(os.path.join(folder, file)) as picture:
                pixels = np.asarray(picture.convert("L" if channels == 1 else "RGB"))
            pixels = pixels.reshape(pixels.shape[0], pixels.shape[1], channels)
            if pixels.shape[:2] != (height, width):
                pixels = resize_bilinear(pixels, height, width)
            images.append(pixels.transpose(2, 0, 1))
            labels.append(label)
    return ImageData(os.path.basename(os.path.normpath(root)), np.stack(images), labels, classes)


def load_data():
    readers = {"npy": read_numpy, "idx": read_idx, "cifar": read_cifar, "folder": read_folder}
    data = readers[DATA["kind"]](DATA["paths"], DATA.get("options", {}))
    if tuple(data.images.shape[1:]) != tuple(SAMPLE_SHAPE):
        raise ValueError(f"the data's samples are {tuple(data.images.shape[1:])} but the model takes {tuple(SAMPLE_SHAPE)}")
    return data


def validation_split(data, fraction, seed):
    """The engine's stratified split: per class, a Fisher-Yates shuffle, the first round(fraction * n) held out."""
    if fraction <= 0:
        return list(range(len(data.labels))), []
    rng = SplitMix64(seed ^ 0x5EED5F11)
    train, validation = [], []
    for label in range(len(data.class_names)):
        group = [int(i) for i in np.flatnonzero(data.labels == label)]
        for i in range(len(group), 1, -1):
            j = rng.below(i)
            group[i - 1], group[j] = group[j], group[i - 1]
        held = int(math.floor(fraction * len(group) + 0.5))
        validation += group[:held]
        train += group[held:]
    return sorted(train), sorted(validation)


class Samples(Dataset):
    """Some samples of the data, normalized; with augment, the engine's random crop (padding 4) then flip."""

    def __init__(self, data, indices, augment):
        self.data = data
        self.indices = list(indices)
        self.augment = augment
        self.epoch = 0
        self.scale = (np.float32(1.0) / data.std).astype(np.float32)

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, position):
        sample = self.indices[position]
        image = self.data.sample(sample)
        if self.augment:
            image = self.crop_and_flip(image, sample)
        mean = self.data.mean.reshape(-1, 1, 1)
        scale = self.scale.reshape(-1, 1, 1)
        image = ((image - mean) * scale).astype(np.float32)
        return torch.from_numpy(np.ascontiguousarray(image)), int(self.data.labels[sample])

    def crop_and_flip(self, image, sample):
        # The same draws as the engine: each sample's crop and flip depend on (seed, epoch, sample) only.
        rng = SplitMix64(SEED ^ ((self.epoch * 0xA24BAED4963EE407) & MASK64) ^ ((sample * 0x9FB21C651E98DF25) & MASK64))
        dy = rng.below(9) - 4
        dx = rng.below(9) - 4
        flip = rng.below(2) == 1
        _, height, width = image.shape
        padded = np.pad(image, ((0, 0), (4, 4), (4, 4)))
        crop = padded[:, 4 + dy:4 + dy + height, 4 + dx:4 + dx + width]
        return crop[:, :, ::-1] if flip else crop


# ----------------------------------------------------------------------------------------------
# The model, the optimizer and the learning-rate schedule.
# ----------------------------------------------------------------------------------------------

def load_model():
    """Imports MODEL_FILE by path and evaluates MODEL_ENTRY in its namespace, as Netlens does."""
    model_file = resolve(MODEL_FILE)
    for folder in [os.path.dirname(model_file)] + [resolve(p) for p in PYTHON_PATH]:
        if folder not in sys.path:
            sys.path.insert(0, folder)
    module_name = os.path.splitext(os.path.basename(model_file))[0]
    spec = importlib.util.spec_from_file_location(module_name, model_file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return eval(MODEL_ENTRY, vars(module))


def is_frozen(name):
    return any(name == prefix or name.startswith(prefix + ".") for prefix in OPTIMIZER["frozen"])


def make_optimizer(model):
    for name, parameter in model.named_parameters():
        if is_frozen(name):
            parameter.requires_grad_(False)
    parameters = [p for p in model.parameters() if p.requires_grad]
    o = OPTIMIZER
    if o["type"] == "sgd":
        return torch.optim.SGD(parameters, lr=o["lr"], momentum=o["momentum"], dampening=o["dampening"],
                               nesterov=o["nesterov"], weight_decay=o["weight_decay"])
    if o["type"] == "adam":
        return torch.optim.Adam(parameters, lr=o["lr"], betas=tuple(o["betas"]), eps=o["eps"], weight_decay=o["weight_decay"])
    if o["type"] == "adamw":
        return torch.optim.AdamW(parameters, lr=o["lr"], betas=tuple(o["betas"]), eps=o["eps"], weight_decay=o["weight_decay"])
    if o["type"] == "rmsprop":
        return torch.optim.RMSprop(parameters, lr=o["lr"], alpha=o["alpha"], eps=o["eps"], weight_decay=o["weight_decay"],
                                   momentum=o["momentum"], centered=o["centered"])
    raise ValueError(f"unknown optimizer {o['type']}")


def learning_rate(step):
    """The engine's schedule, counted in optimizer steps: linear warm-up, then constant, step or cosine."""
    base = OPTIMIZER["lr"]
    schedule = OPTIMIZER["schedule"]
    warmup = schedule["warmup_steps"]
    if step < warmup:
        start = schedule["warmup_start_factor"]
        return base * (start + (1.0 - start) * step / warmup)
    t = step - warmup
    if schedule["type"] == "step":
        return base * schedule["gamma"] ** (t // schedule["step_size"])
    if schedule["type"] == "cosine":
        return schedule["eta_min"] + (base - schedule["eta_min"]) * (1.0 + math.cos(math.pi * t / schedule["t_max"])) / 2.0
    return base


# ----------------------------------------------------------------------------------------------
# The run store: .netlens/runs/<id>/ with config.json, status.json, metrics.jsonl, checkpoints/.
# ----------------------------------------------------------------------------------------------

SAFETENSORS_DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16",
                      torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL"}


def write_safetensors(tensors, path, metadata):
    """A safetensors file: u64 header length, JSON header padded to 8 bytes, the tensors' bytes."""
    header = {"__metadata__": metadata}
    blobs = []
    offset = 0
    for name, tensor in tensors.items():
        tensor = tensor.detach().cpu().contiguous()
        raw = (tensor.view(torch.int16) if tensor.dtype == torch.bfloat16 else tensor).numpy().tobytes()
        header[name] = {"dtype": SAFETENSORS_DTYPES[tensor.dtype], "shape": list(tensor.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as file:
        file.write(struct.pack("<Q", len(text)))
        file.write(text)
        for raw in blobs:
            file.write(raw)


def save_checkpoint(model, path, metadata):
    state = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    try:
        from safetensors.torch import save_file
    except ImportError:
        save_file = None
    partial = path + ".partial"  # renamed when complete: a crash never leaves half a checkpoint under the name
    if save_file is not None:
        save_file(state, partial, metadata=metadata)
    else:
        write_safetensors(state, partial, metadata)
    os.replace(partial, path)


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RunStore:
    """Rank 0's view of the run folder, in the same format as a Netlens run."""

    def __init__(self, root, config):
        runs = os.path.join(root, ".netlens", "runs")
        os.makedirs(runs, exist_ok=True)
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
        run_id, n = stamp, 2
        while True:
            try:
                os.mkdir(os.path.join(runs, run_id))
                break
            except FileExistsError:
                run_id, n = f"{stamp}-{n}", n + 1
        self.dir = os.path.join(runs, run_id)
        with open(os.path.join(self.dir, "config.json"), "w") as file:
            json.dump(config, file, indent=2)
            file.write("\n")
        open(os.path.join(self.dir, "metrics.jsonl"), "w").close()

    def append(self, event):
        with open(os.path.join(self.dir, "metrics.jsonl"), "a") as file:
            file.write(json.dumps(event, separators=(",", ":")) + "\n")

    def set_status(self, status, steps, message=None):
        record = {"status": status, "steps": steps}
        if message is not None:
            record["message"] = message
        record["updated"] = now_iso()
        path = os.path.join(self.dir, "status.json")
        with open(path + ".partial", "w") as file:
            json.dump(record, file, indent=2)
            file.write("\n")
        os.replace(path + ".partial", path)

    def write_checkpoint(self, model, name, metadata):
        folder = os.path.join(self.dir, "checkpoints")
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, name)
        save_checkpoint(model, path, metadata)
        return path


# ----------------------------------------------------------------------------------------------
# Training with DistributedDataParallel.
# ----------------------------------------------------------------------------------------------

def parse_arguments():
    parser = argparse.ArgumentParser(description=f"Train {MODEL_ENTRY} from {MODEL_FILE} with DistributedDataParallel (see the top of this file).")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--batch", type=int, default=BATCH_SIZE, help="samples per process and step (the global batch is this times the number of processes)")
    parser.add_argument("--max-steps", type=int, default=MAX_STEPS, help="stop after this many optimizer steps")
    parser.add_argument("--runs-root", default=".", help="folder that holds .netlens/runs/ (default: the current folder)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--record-shards", action="store_true", help="write shards.json: the samples each rank trains on in the first epoch")
    return parser.parse_args()


stop_requested = False


def request_stop(signum, frame):
    # The step in flight finishes; then every rank stops together and rank 0 writes a checkpoint.
    global stop_requested
    stop_requested = True


def stop_agreed(device):
    """Whether any rank was asked to stop: every rank gets the same answer, so they leave their loops together."""
    flag = torch.tensor([1.0 if stop_requested else 0.0], device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return flag.item() > 0


def evaluate(model, samples, rank, world, device, batch):
    """Mean cross-entropy and accuracy in eval mode; each rank scores every world-th sample, summed over ranks."""
    model.eval()
    totals = torch.zeros(3, dtype=torch.float64, device=device)
    mine = list(range(rank, len(samples), world))
    with torch.no_grad():
        for start in range(0, len(mine), batch):
            images, labels = zip(*(samples[i] for i in mine[start:start + batch]))
            images = torch.stack(images).to(device)
            labels = torch.tensor(labels, device=device)
            scores = model(images)
            totals[0] += F.cross_entropy(scores, labels, reduction="sum").double()
            totals[1] += (scores.argmax(dim=1) == labels).sum().double()
            totals[2] += len(labels)
    dist.all_reduce(totals)
    model.train()
    count = totals[2].item()
    return (totals[0].item() / count, totals[1].item() / count) if count else (float("nan"), float("nan"))


def main():
    args = parse_arguments()
    if "RANK" not in os.environ:
        # Started as a plain script: a one-process group, so the same code runs with and without torchrun.
        os.environ.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1", MASTER_PORT=os.environ.get("MASTER_PORT", "29500"))
    use_cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if use_cuda:
        torch.cuda.set_device(local_rank)
    backend = "nccl" if use_cuda else "gloo"
    dist.init_process_group(backend)
    rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    torch.manual_seed(SEED)
    data = load_data()
    train_indices, validation_indices = validation_split(data, VALIDATION_FRACTION, SEED)
    train_set = Samples(data, train_indices, AUGMENT)
    validation_set = Samples(data, validation_indices, False)
    sampler = DistributedSampler(train_set, num_replicas=world, rank=rank, shuffle=True, seed=SEED, drop_last=False)
    loader = DataLoader(train_set, batch_size=args.batch, sampler=sampler, drop_last=True, pin_memory=use_cuda)

    model = load_model().to(device)
    optimizer = make_optimizer(model)
    base_lr = OPTIMIZER["lr"]
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: learning_rate(step) / base_lr if base_lr > 0 else 0.0)
    ddp_model = DistributedDataParallel(model, device_ids=[local_rank] if use_cuda else None)
    loss_function = nn.CrossEntropyLoss(label_smoothing=LABEL_SMOOTHING)

    store = None
    steps = 0
    finished = False
    try:
        if rank == 0:
            config = dict(RUN_CONFIG, epochs=args.epochs, batch=args.batch, max_steps=args.max_steps, launcher="torchrun",
                          world_size=world, backend=backend, device=device.type, global_batch=args.batch * world, spec=NETLENS_SPEC)
            store = RunStore(os.path.abspath(args.runs_root), config)
            store.set_status("running", 0)
            store.append({"type": "start", "run_dir": store.dir, "data": data.name, "train_samples": len(train_set),
                          "validation_samples": len(validation_set), "batches_per_epoch": len(loader), "world_size": world, "backend": backend})
        if args.record_shards:
            shards = [None] * world
            dist.all_gather_object(shards, [train_set.indices[i] for i in sampler])
            if rank == 0:
                with open(os.path.join(store.dir, "shards.json"), "w") as file:
                    json.dump({"epoch": 1, "world_size": world, "ranks": shards}, file)

        started = time.time()
        epochs_done = 0
        cancelled = False
        max_steps = args.max_steps if args.max_steps is not None else float("inf")
        for epoch in range(args.epochs):
            if steps >= max_steps:
                break
            if stop_agreed(device):
                cancelled = True
                break
            sampler.set_epoch(epoch)
            train_set.epoch = epoch
            # Train loss and accuracy come from the steps themselves (the model as each batch met it), as in Netlens.
            loss_sum, loss_count, correct_sum, sample_sum, epoch_step = 0.0, 0, 0.0, 0.0, 0
            stopped = False
            for images, labels in loader:
                if steps >= max_steps:
                    break
                tick = time.time()
                images = images.to(device, non_blocking=True)
                labels = labels.to(device, non_blocking=True)
                optimizer.zero_grad(set_to_none=True)
                scores = ddp_model(images)
                loss = loss_function(scores, labels)
                loss.backward()
                lr = optimizer.param_groups[0]["lr"]
                optimizer.step()
                scheduler.step()
                steps += 1
                epoch_step += 1
                # One small all-reduce gives the mean loss and the hits over ranks, and tells every rank whether any was asked to stop.
                correct = (scores.detach().argmax(dim=1) == labels).sum().item()
                shared = torch.tensor([loss.item(), correct, len(labels), 1.0 if stop_requested else 0.0], dtype=torch.float64, device=device)
                dist.all_reduce(shared)
                mean_loss = shared[0].item() / world
                loss_sum += mean_loss
                loss_count += 1
                correct_sum += shared[1].item()
                sample_sum += shared[2].item()
                if rank == 0:
                    seconds = time.time() - tick
                    store.append({"type": "step", "epoch": epoch + 1, "step": steps, "loss": mean_loss, "lr": lr,
                                  "images_per_s": len(labels) * world / seconds if seconds > 0 else 0.0})
                if shared[3].item() > 0:
                    stopped = cancelled = True
                    break
            epoch_complete = epoch_step == len(loader)
            # Every rank holds rank 0's BatchNorm statistics before evaluating and saving.
            for buffer in model.buffers():
                dist.broadcast(buffer, 0)
            if stopped and not epoch_complete:
                if rank == 0:
                    path = store.write_checkpoint(model, f"step-{steps}.safetensors", {"format": "pt", "epoch": str(epoch), "step": str(steps), "epoch_step": str(epoch_step)})
                    store.append({"type": "checkpoint", "epoch": epochs_done, "step": steps, "path": path})
                break
            val_loss, val_acc = evaluate(model, validation_set, rank, world, device, args.batch) if len(validation_set) else (None, None)
            epochs_done += 1
            if rank == 0:
                store.append({"type": "epoch", "epoch": epoch + 1, "train_loss": loss_sum / loss_count if loss_count else None,
                              "train_acc": correct_sum / sample_sum if sample_sum else None, "val_loss": val_loss, "val_acc": val_acc})
                if epoch_complete:
                    name, metadata = f"epoch-{epoch + 1}.safetensors", {"format": "pt", "epoch": str(epoch + 1), "step": str(steps), "epoch_step": "0"}
                else:
                    name, metadata = f"step-{steps}.safetensors", {"format": "pt", "epoch": str(epoch), "step": str(steps), "epoch_step": str(epoch_step)}
                path = store.write_checkpoint(model, name, metadata)
                store.append({"type": "checkpoint", "epoch": epochs_done, "step": steps, "path": path})
            if stopped:
                break
        status = "cancelled" if cancelled else "completed"
        if rank == 0:
            store.append({"type": "done", "epochs": epochs_done, "steps": steps, "seconds": time.time() - started, "status": status})
            store.set_status(status, steps)
            print(f"{status}: {steps} steps; run in {store.dir}", flush=True)
        finished = True
    except BaseException as error:
        if store is not None:
            message = f"{type(error).__name__}: {error}"
            store.append({"type": "error", "message": message})
            store.set_status("failed", steps, message)
        raise
    finally:
        # Rank 0 writes the last checkpoint and the run's end while the others are done: they wait
        # for it, so that no rank tears its process group down under another (gloo aborted a rank
        # with "terminate called without an active exception" when one left first). Not after an
        # error: a rank that failed never reaches the barrier.
        if finished:
            dist.barrier()
        dist.destroy_process_group()
    return 130 if status == "cancelled" else 0


if __name__ == "__main__":
    sys.exit(main())
`;
