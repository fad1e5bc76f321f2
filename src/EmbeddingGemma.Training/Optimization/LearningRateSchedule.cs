namespace EmbeddingGemma.Training.Optimization;

/// <summary>The learning-rate schedules of Hugging Face <c>transformers.optimization</c> (which the sentence-transformers trainer uses).</summary>
public enum ScheduleKind
{
    /// <summary><c>get_constant_schedule</c>: lr everywhere (the article's loop).</summary>
    Constant,

    /// <summary><c>get_constant_schedule_with_warmup</c>.</summary>
    ConstantWithWarmup,

    /// <summary><c>get_linear_schedule_with_warmup</c> (the trainer's default).</summary>
    Linear,

    /// <summary><c>get_cosine_schedule_with_warmup</c> with num_cycles 0.5.</summary>
    Cosine,
}

/// <summary>
/// A learning rate per optimizer step, as torch's <c>LambdaLR</c> with the Hugging Face lambdas: step k (0-based: the
/// number of <c>scheduler.step()</c> calls before this update) uses <c>lr · λ(k)</c>, with warmup
/// <c>λ(k) = k / max(1, warmup)</c> for k &lt; warmup (so the very first update has lr 0 when warmup &gt; 0, as in
/// transformers), then constant 1, linear <c>max(0, (total − k) / max(1, total − warmup))</c>, or cosine
/// <c>max(0, ½(1 + cos(π·progress)))</c>, progress = (k − warmup) / max(1, total − warmup).
/// </summary>
public sealed record LearningRateSchedule(ScheduleKind Kind, double LearningRate, int WarmupSteps, int TotalSteps)
{
    /// <summary>Warmup steps from a ratio as <c>TrainingArguments.get_warmup_steps</c>: ceil(total · ratio).</summary>
    public static int WarmupFromRatio(int totalSteps, double ratio) => (int)Math.Ceiling(totalSteps * ratio);

    /// <summary>The factor λ(k).</summary>
    public double Factor(int step)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        if (Kind == ScheduleKind.Constant)
        {
            return 1.0;
        }
        if (step < WarmupSteps)
        {
            return (double)step / Math.Max(1, WarmupSteps);
        }
        var progress = (double)(step - WarmupSteps) / Math.Max(1, TotalSteps - WarmupSteps);
        return Kind switch
        {
            ScheduleKind.ConstantWithWarmup => 1.0,
            ScheduleKind.Linear => Math.Max(0.0, (double)(TotalSteps - step) / Math.Max(1, TotalSteps - WarmupSteps)),
            ScheduleKind.Cosine => Math.Max(0.0, 0.5 * (1.0 + Math.Cos(Math.PI * 2.0 * 0.5 * progress))),
            _ => throw new ArgumentOutOfRangeException(nameof(step)),
        };
    }

    /// <summary>The learning rate of optimizer step <paramref name="step"/> (0-based).</summary>
    public double At(int step) => LearningRate * Factor(step);
}
