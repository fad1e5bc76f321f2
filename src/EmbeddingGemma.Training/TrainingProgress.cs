namespace EmbeddingGemma.Training;

/// <summary>
/// One report of <see cref="Trainer.Train"/>: after every optimizer step (<see cref="EpochCompleted"/> false) and once
/// at the end of each epoch (true, with <see cref="AverageLoss"/>). <see cref="Epoch"/> is 1-based; <see cref="Batch"/>
/// is the 0-based batch index within the epoch (the article prints when Batch % LogEvery == 0: <see cref="IsLogLine"/>).
/// </summary>
public sealed record TrainingProgress
{
    public int Step { get; init; }
    public int TotalSteps { get; init; }
    public int Epoch { get; init; }
    public int Epochs { get; init; }
    public int Batch { get; init; }
    public int BatchesInEpoch { get; init; }
    public double Loss { get; init; }
    public double LearningRate { get; init; }
    public double GradNorm { get; init; }

    /// <summary>The data kind of the batch (similarity, pair, triplet) and the loss used.</summary>
    public string Kind { get; init; } = "";
    public string LossName { get; init; } = "";

    /// <summary>Tokens embedded so far in this run (prompts and specials included).</summary>
    public long Tokens { get; init; }
    public double TokensPerSecond { get; init; }
    public TimeSpan Elapsed { get; init; }
    public TimeSpan Eta { get; init; }

    /// <summary>True when the article's log line is due (Batch % LogEvery == 0).</summary>
    public bool IsLogLine { get; init; }

    public bool EpochCompleted { get; init; }

    /// <summary>Mean loss over the epoch's batches (at EpochCompleted).</summary>
    public double AverageLoss { get; init; }

    /// <summary>The article's line: <c>Epoch e/E, Batch b, Loss: x.xxxx</c> (or at the end of an epoch <c>Epoch e completed. Average Loss: x.xxxx</c>).</summary>
    public string ArticleLine => EpochCompleted
        ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"Epoch {Epoch} completed. Average Loss: {AverageLoss:F4}")
        : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"Epoch {Epoch}/{Epochs}, Batch {Batch}, Loss: {Loss:F4}");
}

/// <summary>What <see cref="Trainer.Train"/> did.</summary>
public sealed record TrainingResult(int Steps, int TotalSteps, int Epochs, double LastLoss, IReadOnlyList<double> EpochAverageLosses, long Tokens, TimeSpan Elapsed);
