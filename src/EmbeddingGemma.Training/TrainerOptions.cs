using EmbeddingGemma.Model;
using EmbeddingGemma.Training.Data;
using EmbeddingGemma.Training.Optimization;
using EmbeddingGemma.Training.Reference;

namespace EmbeddingGemma.Training;

/// <summary>What <see cref="Trainer"/> trains with. Defaults follow the sentence-transformers recipe for EmbeddingGemma
/// (lr 2e-5, warmup 10 %, linear decay, clipping at 1.0, norms not decayed, embedding table frozen);
/// <see cref="Article"/> is the article's loop exactly.</summary>
public sealed record TrainerOptions
{
    /// <summary>Loss per data kind (<see cref="LossSpec"/>): one name, KIND=NAME items, or auto.</summary>
    public string Loss { get; init; } = "auto";

    /// <summary>Matryoshka dimensions wrapping every loss (null or empty: none). Each must be at most the embedding size.</summary>
    public IReadOnlyList<int>? MatryoshkaDimensions { get; init; }

    public int Epochs { get; init; } = 1;

    /// <summary>Stop after this many optimizer steps (null: <see cref="Epochs"/> full epochs); epochs repeat as needed.</summary>
    public int? MaxSteps { get; init; }

    public int BatchSize { get; init; } = 32;

    /// <summary>cached-mnrl: sequences re-embedded with activations per backward chunk (GradCache mini-batch).</summary>
    public int MiniBatch { get; init; } = 32;

    /// <summary>Every other loss: a backward chunk holds at most this many tokens (at least one sequence), so activation memory stays bounded (two-pass / GradCache above the budget).</summary>
    public int MaxLiveTokens { get; init; } = 8192;

    /// <summary>Tokens per text incl. prompt and &lt;bos&gt;/&lt;eos&gt; (longer texts are cut); 0: the model's limit.</summary>
    public int MaxSeqLength { get; init; }

    public double LearningRate { get; init; } = 2e-5;

    public double WeightDecay { get; init; } = 0.01;

    /// <summary>Decay norm weights too (the article's bare AdamW decays every tensor).</summary>
    public bool DecayNorms { get; init; }

    public ScheduleKind Scheduler { get; init; } = ScheduleKind.Linear;

    public double WarmupRatio { get; init; } = 0.1;

    /// <summary>Clip the global gradient norm to this (null: no clipping).</summary>
    public double? MaxGradNorm { get; init; } = 1.0;

    /// <summary>Train the token embedding table too (default: frozen).</summary>
    public bool TrainEmbeddings { get; init; }

    /// <summary>Layers whose tensors stay frozen (0-based).</summary>
    public IReadOnlyList<int> FrozenLayers { get; init; } = [];

    /// <summary>LoRA rank (0: no LoRA, full fine-tuning of the trainable set).</summary>
    public int LoraRank { get; init; }

    /// <summary>LoRA alpha (scale alpha / rank); null: 2 × rank.</summary>
    public double? LoraAlpha { get; init; }

    /// <summary>LoRA target projections: q, k, v, o, gate, up, down (default all seven).</summary>
    public IReadOnlyList<string> LoraTargets { get; init; } = LoraAdapter.AllTargets;

    /// <summary>Prompt per column (<see cref="ColumnPrompts"/>); null: the article's defaults.</summary>
    public IReadOnlyDictionary<string, string>? Prompts { get; init; }

    public int Seed { get; init; } = 42;

    /// <summary>Compute threads (0: all cores).</summary>
    public int Threads { get; init; }

    /// <summary>Write the article's <c>Epoch e/E, Batch b, Loss: x.xxxx</c> line every this many batches (0-based batch index % N == 0).</summary>
    public int LogEvery { get; init; } = 10;

    /// <summary>Save a checkpoint every this many steps into <see cref="CheckpointDirectory"/> (0: only at the end and on cancellation).</summary>
    public int SaveEvery { get; init; }

    /// <summary>Where checkpoints go (null: none are written).</summary>
    public string? CheckpointDirectory { get; init; }

    /// <summary>A checkpoint folder (or a folder holding checkpoints: the latest is taken) to continue from, bit-identically.</summary>
    public string? ResumeFrom { get; init; }

    /// <summary>
    /// The encoder with a backward pass, built from the base checkpoint and these options: the fp32 engine
    /// (<see cref="Fast.FastTrainableEncoder.Create"/>, default) or the exact fp64 reference
    /// (<see cref="Reference.ReferenceTrainableEncoder.Create"/>, slow; for checks).
    /// </summary>
    public Func<ModelCheckpoint, TrainerOptions, ITrainableEncoder> EncoderFactory { get; init; } = Fast.FastTrainableEncoder.Create;

    /// <summary>The article's loop (§五) exactly: AdamW lr 1e-5 with weight decay 0.01 on every tensor (embedding table
    /// included), constant lr, no warmup, no clipping, batch 2, 3 epochs, MSE-on-cosine for similarity pairs and the
    /// cosine triplet loss (margin 0.5) for triplets, the article's prompts, a log line every 10 batches.</summary>
    public static TrainerOptions Article { get; } = new()
    {
        Loss = "similarity=cosine,triplet=cosine-triplet",
        LearningRate = 1e-5,
        WeightDecay = 0.01,
        DecayNorms = true,
        Scheduler = ScheduleKind.Constant,
        WarmupRatio = 0,
        MaxGradNorm = null,
        BatchSize = 2,
        Epochs = 3,
        TrainEmbeddings = true,
        LogEvery = 10,
    };
}
