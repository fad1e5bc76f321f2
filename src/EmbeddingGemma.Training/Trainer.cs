using System.Diagnostics;
using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Model;
using EmbeddingGemma.Numerics;
using EmbeddingGemma.Training.Data;
using EmbeddingGemma.Training.Losses;
using EmbeddingGemma.Training.Optimization;

namespace EmbeddingGemma.Training;

/// <summary>
/// Fine-tunes an EmbeddingGemma model on pairs and triplets (docs/training-design.md). Each step: (1) the batch's
/// texts, prompted per column, are embedded without activations; (2) the loss and G = ∂L/∂Y are computed on the unit
/// vectors; (3) per chunk (a live-token budget, or cached-mnrl's mini-batch) the encoder re-runs the forward with
/// activations and backpropagates G; (4) LoRA gradients follow by the chain rule; (5) clipping, then AdamW with the
/// scheduled learning rate. The encoder is any <see cref="ITrainableEncoder"/> (<see cref="TrainerOptions.EncoderFactory"/>).
/// The order of batches depends on (seed, epoch) only, and a checkpoint holds parameters, optimizer moments and the
/// position, so a resumed run is bit-identical to an uninterrupted one. The trained model is usable in-process
/// (<see cref="CreateModel"/>) or saved as a sentence-transformers folder and GGUF (<see cref="Save"/>).
/// </summary>
public sealed class Trainer : IDisposable
{
    private readonly ModelCheckpoint _base;
    private readonly ITrainableEncoder _encoder;
    private readonly bool[] _trainable;
    private readonly float[][] _gradients;
    private readonly LoraAdapter? _lora;
    private readonly List<OptimizerTensor<float>> _optimized = [];
    private readonly List<float[]> _optimizedGradients = [];
    private readonly AdamW<float> _adam;
    private readonly bool _ownsBaseModel;

    /// <summary>Trains <paramref name="checkpoint"/>; <paramref name="baseModel"/> gives the tokenizer and prompts (and is the "before" model).</summary>
    public Trainer(ModelCheckpoint checkpoint, EmbeddingGemmaModel baseModel, TrainerOptions? options = null) : this(checkpoint, baseModel, options, ownsBaseModel: false)
    {
    }

    private Trainer(ModelCheckpoint checkpoint, EmbeddingGemmaModel baseModel, TrainerOptions? options, bool ownsBaseModel)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        ArgumentNullException.ThrowIfNull(baseModel);
        BaseModel = baseModel;
        _ownsBaseModel = ownsBaseModel;
        Options = options ?? new TrainerOptions();
        Validate(Options, checkpoint);
        if (baseModel.Tokenizer is null)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"{baseModel.Source}: the model has no tokenizer; training needs one (tokenizer.json beside the model).");
        }
        _encoder = Options.EncoderFactory(checkpoint, Options);
        var tensors = _encoder.Tensors;
        // The encoder holds its own copy of every tensor it trains; keep the checkpoint's values only for tensors it
        // does not have, so a checkpoint nobody else references (Load) is freed instead of staying a second copy.
        var inEncoder = tensors.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        _base = Copy(checkpoint, checkpoint.Tensors.Select(t => inEncoder.Contains(t.Name) ? t with { Values = [] } : t).ToList(), checkpoint.Prompts);
        var frozenLayers = Options.FrozenLayers.ToHashSet();
        if (Options.LoraRank > 0)
        {
            _lora = new LoraAdapter(tensors, Options.LoraRank, Options.LoraAlpha ?? 2.0 * Options.LoraRank, Options.LoraTargets, frozenLayers, BatchPlanner.Mix(Options.Seed, -7, 7));
            _trainable = new bool[tensors.Count];
            foreach (var p in _lora.Pairs)
            {
                _trainable[p.TensorIndex] = true;   // the encoder computes dW; only A, B are optimized
                _optimized.Add(new OptimizerTensor<float>(p.NameA, p.A, false));
                _optimizedGradients.Add(new float[p.A.Length]);
                _optimized.Add(new OptimizerTensor<float>(p.NameB, p.B, false));
                _optimizedGradients.Add(new float[p.B.Length]);
            }
        }
        else
        {
            _trainable = tensors.Select(t => t.Name != "embed_tokens.weight" || Options.TrainEmbeddings).ToArray();
            for (var i = 0; i < tensors.Count; i++)
            {
                if (LoraAdapter.LayerOf(tensors[i].Name) is { } l && frozenLayers.Contains(l))
                {
                    _trainable[i] = false;
                }
            }
        }
        _gradients = tensors.Select((t, i) => _trainable[i] ? new float[t.Values.Length] : []).ToArray();
        if (_lora is null)
        {
            for (var i = 0; i < tensors.Count; i++)
            {
                if (_trainable[i])
                {
                    _optimized.Add(new OptimizerTensor<float>(tensors[i].Name, tensors[i].Values, tensors[i].IsNorm));
                    _optimizedGradients.Add(_gradients[i]);
                }
            }
        }
        if (_optimized.Count == 0)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, "Nothing to train: every tensor is frozen (check --freeze-layers and --lora-targets).");
        }
        _adam = new AdamW<float>(_optimized, new AdamWOptions { WeightDecay = Options.WeightDecay, DecayNorms = Options.DecayNorms });
    }

    /// <summary>Loads a model folder or .gguf (EmbeddingGemma v1) and prepares a trainer for it.</summary>
    public static Trainer Load(string model, TrainerOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(model);
        options ??= new TrainerOptions();
        if (Model.V2.EmbeddingGemma2Weights.IsEmbeddingGemma2(model))
        {
            throw new EmbeddingGemmaException(ErrorKind.Unsupported, $"{model}: training supports EmbeddingGemma (v1, 300M); this is an EmbeddingGemma 2 model.") { FilePath = model };
        }
        var ckpt = ModelCheckpoint.Read(model);
        // The model as a user runs it is the "before" model and gives the tokenizer and prompts; its weights stay in the
        // file (mapped), so the trainer holds one copy of the weights: the encoder's.
        var baseModel = EmbeddingGemmaModel.Load(model, new ModelLoadOptions { Threads = options.Threads, UseHub = false });
        try
        {
            // the prompts of the folder (config_sentence_transformers.json) are kept; a GGUF has the standard ones
            return new Trainer(Copy(ckpt, ckpt.Tensors, baseModel.Prompts), baseModel, options, ownsBaseModel: true);
        }
        catch
        {
            baseModel.Dispose();
            throw;
        }
    }

    public TrainerOptions Options { get; }

    /// <summary>The model before training (tokenizer and prompts come from it).</summary>
    public EmbeddingGemmaModel BaseModel { get; }

    /// <summary>The encoder being trained.</summary>
    public ITrainableEncoder Encoder => _encoder;

    /// <summary>The LoRA adapter (null without LoRA).</summary>
    public LoraAdapter? Lora => _lora;

    /// <summary>The tensors the optimizer updates (LoRA A/B, or the trainable model tensors) in order.</summary>
    public IReadOnlyList<OptimizerTensor<float>> OptimizedTensors => _optimized;

    /// <summary>The optimizer (moments and step count).</summary>
    public AdamW<float> Optimizer => _adam;

    /// <summary>Optimizer steps taken (also after a resume).</summary>
    public int Step { get; private set; }

    private static void Validate(TrainerOptions o, ModelCheckpoint c)
    {
        void Need(bool ok, string message)
        {
            if (!ok)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, message);
            }
        }
        Need(o.Epochs >= 1, $"epochs must be at least 1, got {o.Epochs}.");
        Need(o.MaxSteps is null or >= 1, $"max steps must be at least 1, got {o.MaxSteps}.");
        Need(o.BatchSize >= 1, $"batch size must be at least 1, got {o.BatchSize}.");
        Need(o.MiniBatch >= 1, $"mini-batch must be at least 1, got {o.MiniBatch}.");
        Need(o.MaxLiveTokens >= 1, $"max live tokens must be at least 1, got {o.MaxLiveTokens}.");
        Need(o.LearningRate >= 0 && double.IsFinite(o.LearningRate), $"learning rate must be a finite number >= 0, got {o.LearningRate}.");
        Need(o.WeightDecay >= 0 && double.IsFinite(o.WeightDecay), $"weight decay must be a finite number >= 0, got {o.WeightDecay}.");
        Need(o.WarmupRatio is >= 0 and <= 1, $"warmup ratio must be between 0 and 1, got {o.WarmupRatio}.");
        Need(o.MaxGradNorm is null || o.MaxGradNorm > 0 && double.IsFinite(o.MaxGradNorm.Value), $"max grad norm must be a positive number, got {o.MaxGradNorm}.");
        Need(o.MaxSeqLength is >= 0 and not 1, $"max sequence length must be 0 (the model's) or at least 2, got {o.MaxSeqLength}.");
        Need(o.LogEvery >= 1, $"log-every must be at least 1, got {o.LogEvery}.");
        Need(o.SaveEvery >= 0, $"save-every must be 0 (off) or positive, got {o.SaveEvery}.");
        Need(o.LoraRank >= 0, $"LoRA rank must be 0 (off) or positive, got {o.LoraRank}.");
        Need(!(o.LoraRank > 0 && o.TrainEmbeddings), "LoRA trains only its adapters: --train-embeddings cannot be combined with --lora-rank.");
        var layers = c.Config.NumHiddenLayers;
        var bad = o.FrozenLayers.Where(l => l < 0 || l >= layers).ToList();
        Need(bad.Count == 0, $"frozen layer {string.Join(", ", bad)} does not exist (the model has layers 0..{layers - 1}).");
        var dim = c.Config.HiddenSize;
        if (o.MatryoshkaDimensions is { Count: > 0 } m)
        {
            var wrong = m.Where(d => d < 1 || d > dim).ToList();
            Need(wrong.Count == 0, $"Matryoshka dimension {string.Join(", ", wrong)} is outside 1..{dim} (the model's embedding size).");
        }
        LossSpec.Parse(o.Loss);
    }

    /// <summary>Tokenizes one text with a prompt, cut to the sequence limit (as the model embeds it).</summary>
    private int[] Tokenize(string text, string? prompt)
    {
        var max = Options.MaxSeqLength > 0 ? Math.Min(Options.MaxSeqLength, BaseModel.Config.MaxPositionEmbeddings) : BaseModel.MaxTokens;
        return BaseModel.Tokenize(text, new EncodeOptions { Prompt = prompt ?? "", MaxTokens = max, Truncate = true }).Ids;
    }

    private sealed record Prepared(TrainingDataset Data, string LossName, EmbeddingLoss Loss, int[][][] Ids);

    private List<Prepared> Prepare(IReadOnlyList<TrainingDataset> datasets)
    {
        if (datasets.Count == 0 || datasets.All(d => d.Rows.Count == 0))
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, "No training rows.");
        }
        var losses = LossSpec.Parse(Options.Loss);
        var prompts = Options.Prompts ?? ColumnPrompts.Defaults;
        var result = new List<Prepared>();
        foreach (var d in datasets.Where(d => d.Rows.Count > 0))
        {
            var name = losses[d.Kind];
            if (name.Length == 0)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument,
                    $"{d.Name}: loss '{Options.Loss}' does not take {TrainingDataset.KindName(d.Kind)} rows; give a loss per kind, e.g. --loss similarity=cosent,triplet=mnrl.");
            }
            var columnPrompts = d.Columns.Select(c => ColumnPrompts.Resolve(prompts.GetValueOrDefault(c), BaseModel.PromptResolver)).ToArray();
            var ids = d.Rows.Select(r => r.Texts.Select((t, c) => Tokenize(t, columnPrompts[c])).ToArray()).ToArray();
            if (d.Kind == TrainingDataKind.ScoredPairs && d.Rows.Any(r => r.Label is null))
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"{d.Rows.First(r => r.Label is null).Origin}: a similarity pair needs a score.");
            }
            result.Add(new Prepared(d, name, LossSpec.Create(name, Options.MatryoshkaDimensions), ids));
        }
        return result;
    }

    /// <summary>
    /// Trains on <paramref name="datasets"/> (one per kind, e.g. from <see cref="TrainingDataLoader.Load"/>). Reports
    /// after every step and epoch; on cancellation saves a checkpoint (when <see cref="TrainerOptions.CheckpointDirectory"/>
    /// is set) at the last completed step, then throws <see cref="OperationCanceledException"/>.
    /// </summary>
    public TrainingResult Train(IReadOnlyList<TrainingDataset> datasets, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(datasets);
        var prepared = Prepare(datasets);
        var noDup = prepared.Select(p => LossSpec.NeedsNoDuplicates(p.LossName)).ToArray();
        var data = prepared.Select(p => p.Data).ToArray();
        var plans = new Dictionary<int, IReadOnlyList<PlannedBatch>>();
        IReadOnlyList<PlannedBatch> Plan(int e)
        {
            if (!plans.TryGetValue(e, out var p))
            {
                plans[e] = p = BatchPlanner.Plan(data, Options.BatchSize, Options.Seed, e, noDup);
            }
            return p;
        }
        var total = Options.MaxSteps ?? Enumerable.Range(0, Options.Epochs).Sum(e => Plan(e).Count);
        var epochs = Options.MaxSteps is { } ms ? EpochsFor(ms, Plan) : Options.Epochs;
        var warmup = LearningRateSchedule.WarmupFromRatio(total, Options.WarmupRatio);
        var kind = Options.Scheduler == ScheduleKind.Constant && warmup > 0 ? ScheduleKind.ConstantWithWarmup : Options.Scheduler;
        var schedule = new LearningRateSchedule(kind, Options.LearningRate, warmup, total);
        var fingerprint = TrainingState.FingerprintOf(data);
        var position = new TrainingState { TotalSteps = total, Seed = Options.Seed, BatchSize = Options.BatchSize, DataFingerprint = fingerprint };
        if (Options.ResumeFrom is { } resume)
        {
            position = TrainingState.Load(resume, this, position);
            Step = position.Step;
            MergeLora();
        }
        var sw = Stopwatch.StartNew();
        long tokens = 0;
        double lastLoss = double.NaN;
        var averages = new List<double>();
        var epoch = position.Epoch;
        var batch = position.Batch;
        var epochLossSum = position.EpochLossSum;
        var startStep = Step;
        try
        {
            for (; Options.MaxSteps is null ? epoch < Options.Epochs : Step < total; epoch++, batch = 0, epochLossSum = 0)
            {
                var plan = Plan(epoch);
                for (; batch < plan.Count && Step < total; batch++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var pb = plan[batch];
                    var p = prepared[pb.Dataset];
                    var lr = schedule.At(Step);
                    var (loss, norm, stepTokens) = RunStep(p, pb.Rows, lr, cancellationToken);
                    Step++;
                    tokens += stepTokens;
                    lastLoss = loss;
                    epochLossSum += loss;
                    var elapsed = sw.Elapsed;
                    var rate = tokens / Math.Max(1e-9, elapsed.TotalSeconds);
                    var stepsDone = Step - startStep;
                    progress?.Report(new TrainingProgress
                    {
                        Step = Step, TotalSteps = total, Epoch = epoch + 1, Epochs = epochs, Batch = batch, BatchesInEpoch = plan.Count,
                        Loss = loss, LearningRate = lr, GradNorm = norm, Kind = TrainingDataset.KindName(p.Data.Kind), LossName = p.LossName,
                        Tokens = tokens, TokensPerSecond = rate, Elapsed = elapsed,
                        Eta = TimeSpan.FromSeconds(elapsed.TotalSeconds / stepsDone * (total - Step)),
                        IsLogLine = batch % Options.LogEvery == 0,
                    });
                    if (Options.SaveEvery > 0 && Step % Options.SaveEvery == 0 && Step < total && Options.CheckpointDirectory is { } dir)
                    {
                        SaveState(dir, epoch, batch + 1, epochLossSum, total, fingerprint);
                    }
                }
                if (batch >= plan.Count)
                {
                    var avg = epochLossSum / plan.Count;
                    averages.Add(avg);
                    progress?.Report(new TrainingProgress
                    {
                        Step = Step, TotalSteps = total, Epoch = epoch + 1, Epochs = epochs, Batch = plan.Count - 1, BatchesInEpoch = plan.Count,
                        Loss = lastLoss, EpochCompleted = true, AverageLoss = avg, Tokens = tokens, Elapsed = sw.Elapsed,
                    });
                }
                else
                {
                    break;   // max steps reached inside the epoch
                }
            }
        }
        catch (OperationCanceledException) when (Options.CheckpointDirectory is not null)
        {
            _encoder.ReleaseBuffers();
            SaveState(Options.CheckpointDirectory, epoch, batch, epochLossSum, total, fingerprint);
            throw;
        }
        finally
        {
            _encoder.ReleaseBuffers();
        }
        if (Options.CheckpointDirectory is { } final)
        {
            SaveState(final, epoch, batch, epochLossSum, total, fingerprint);
        }
        return new TrainingResult(Step, total, epochs, lastLoss, averages, tokens, sw.Elapsed);
    }

    private static int EpochsFor(int maxSteps, Func<int, IReadOnlyList<PlannedBatch>> plan)
    {
        int e = 0, steps = 0;
        while (steps < maxSteps)
        {
            steps += plan(e++).Count;
        }
        return e;
    }

    private void SaveState(string dir, int epoch, int batch, double epochLossSum, int total, string fingerprint) =>
        TrainingState.Save(dir, this, new TrainingState
        {
            Step = Step, Epoch = epoch, Batch = batch, EpochLossSum = epochLossSum, TotalSteps = total, Seed = Options.Seed,
            BatchSize = Options.BatchSize, DataFingerprint = fingerprint, AdamSteps = _adam.StepCount,
        });

    private (double Loss, double GradNorm, long Tokens) RunStep(Prepared p, int[] rows, double lr, CancellationToken ct)
    {
        var columns = p.Data.Columns.Count;
        var seqs = new List<int[]>();
        for (var c = 0; c < columns; c++)
        {
            foreach (var r in rows)
            {
                seqs.Add(p.Ids[r][c]);
            }
        }
        var y = _encoder.Embed(seqs, ct);
        var cols = new double[columns][][];
        for (var c = 0; c < columns; c++)
        {
            cols[c] = new double[rows.Length][];
            for (var i = 0; i < rows.Length; i++)
            {
                cols[c][i] = Array.ConvertAll(y[c * rows.Length + i], v => (double)v);
            }
        }
        var labels = p.Data.Kind == TrainingDataKind.ScoredPairs ? rows.Select(r => p.Data.Rows[r].Label!.Value).ToArray() : null;
        var g = EmbeddingLoss.ZeroGradients(cols);
        var loss = p.Loss.Compute(cols, labels, g);
        if (!double.IsFinite(loss))
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"The loss became {loss} at step {Step + 1} ({p.Data.Name}); lower the learning rate.");
        }
        var flatG = new float[seqs.Count][];
        for (var c = 0; c < columns; c++)
        {
            for (var i = 0; i < rows.Length; i++)
            {
                flatG[c * rows.Length + i] = Array.ConvertAll(g[c][i], v => (float)v);
            }
        }
        foreach (var grad in _gradients)
        {
            Array.Clear(grad);
        }
        foreach (var grad in _optimizedGradients)
        {
            Array.Clear(grad);
        }
        var start = 0;
        while (start < seqs.Count)
        {
            var end = start + 1;
            if (p.LossName == "cached-mnrl")
            {
                end = Math.Min(seqs.Count, start + Options.MiniBatch);
            }
            else
            {
                long live = seqs[start].Length;
                while (end < seqs.Count && live + seqs[end].Length <= Options.MaxLiveTokens)
                {
                    live += seqs[end++].Length;
                }
            }
            _encoder.Backward(seqs.GetRange(start, end - start), flatG[start..end], _gradients, ct);
            start = end;
        }
        if (_lora is not null)
        {
            for (var i = 0; i < _lora.Pairs.Count; i++)
            {
                var pair = _lora.Pairs[i];
                _lora.Backward(pair, _gradients[pair.TensorIndex], _optimizedGradients[2 * i], _optimizedGradients[2 * i + 1]);
            }
        }
        var norm = GradientClipping.ClipByGlobalNorm(_optimizedGradients, Options.MaxGradNorm ?? double.PositiveInfinity);
        _adam.Step(_optimizedGradients, lr);
        MergeLora();
        return (loss, norm, seqs.Sum(s => (long)s.Length));
    }

    private void MergeLora()
    {
        if (_lora is null)
        {
            return;
        }
        foreach (var p in _lora.Pairs)
        {
            _lora.Merge(p, _encoder.Tensors[p.TensorIndex].Values);
        }
    }

    /// <summary>The current weights as a checkpoint (LoRA merged into its matrices), with the base model's config, tokenizer and prompts.</summary>
    public ModelCheckpoint ToCheckpoint() => Snapshot(clone: true);

    // The current weights; without clone the tensors are the encoder's live arrays (for writing or copying at once).
    private ModelCheckpoint Snapshot(bool clone)
    {
        var current = _encoder.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var tensors = _base.Tensors.Select(t => current.TryGetValue(t.Name, out var c)
            ? new CheckpointTensor(t.Name, t.Shape, clone ? (float[])c.Values.Clone() : c.Values)
            : t).ToList();
        return Copy(_base, tensors, _base.Prompts);
    }

    private static ModelCheckpoint Copy(ModelCheckpoint c, IReadOnlyList<CheckpointTensor> tensors, IReadOnlyDictionary<string, string> prompts) => new()
    {
        Config = c.Config,
        Tensors = tensors,
        TokenizerJson = c.TokenizerJson,
        TokenizerConfigJson = c.TokenizerConfigJson,
        Prompts = prompts,
        Name = c.Name,
    };

    /// <summary>The trained model in memory (no files written), embedding exactly as the saved folder would.</summary>
    public EmbeddingGemmaModel CreateModel(ModelLoadOptions? options = null) =>
        EmbeddingGemmaModel.FromCheckpoint(Snapshot(clone: false), BaseModel.Tokenizer, options ?? new ModelLoadOptions { Threads = Options.Threads }, "(trained in memory)");

    /// <summary>
    /// Writes the trained model as a sentence-transformers folder into <paramref name="folder"/> (config, safetensors,
    /// modules.json, 1_Pooling, 2_Dense, 3_Dense, 4_Normalize, tokenizer, prompts) and, unless <paramref name="ggufType"/>
    /// is null or "none", <c>model.gguf</c> of that type: f32, f16, bf16, q8_0, q4_0 or mixed (as <c>quantize</c>).
    /// Returns the GGUF path (null when none).
    /// </summary>
    public string? Save(string folder, string? ggufType = "f32")
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        var ckpt = Snapshot(clone: false);
        ckpt.WriteHuggingFaceFolder(folder);
        var type = ggufType?.Trim().ToLowerInvariant();
        if (type is null or "none" or "")
        {
            return null;
        }
        var gguf = Path.Combine(folder, "model.gguf");
        switch (type)
        {
            case "f32":
                ckpt.WriteGguf(gguf, GgmlType.F32);
                break;
            case "f16":
                ckpt.WriteGguf(gguf, GgmlType.F16);
                break;
            case "bf16":
                ckpt.WriteGguf(gguf, GgmlType.BF16);
                break;
            default:
                Model.Fast.ModelQuantizer.Quantize(folder, Model.Fast.ModelQuantizer.Parse(type), gguf);
                break;
        }
        return gguf;
    }

    /// <summary>Checks a GGUF type name for <see cref="Save"/> (f32, f16, bf16, q8_0, q4_0, mixed, none).</summary>
    public static string CheckGgufType(string type)
    {
        var t = type?.Trim().ToLowerInvariant() ?? "";
        return t is "f32" or "f16" or "bf16" or "q8_0" or "q4_0" or "mixed" or "none" ? t
            : throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"unknown GGUF type '{type}' (f32, f16, bf16, q8_0, q4_0, mixed or none).");
    }

    public void Dispose()
    {
        if (_ownsBaseModel)
        {
            BaseModel.Dispose();
        }
        (_encoder as IDisposable)?.Dispose();
    }
}
