using System.Numerics;

namespace EmbeddingGemma.Training.Optimization;

/// <summary>AdamW hyper-parameters; defaults are <c>torch.optim.AdamW</c>'s (lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0.01).</summary>
public sealed record AdamWOptions
{
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.999;
    public double Epsilon { get; init; } = 1e-8;
    public double WeightDecay { get; init; } = 0.01;

    /// <summary>
    /// False (default): RMSNorm weights are not decayed, as the Hugging Face / sentence-transformers trainer groups
    /// them (<c>get_decay_parameter_names</c> excludes norm layers and biases). True: every tensor is decayed, as a bare
    /// <c>torch.optim.AdamW(model.parameters())</c> does (the article's code).
    /// </summary>
    public bool DecayNorms { get; init; }
}

/// <summary>One tensor the optimizer updates: its name, values, and whether weight decay applies (see <see cref="AdamWOptions.DecayNorms"/>).</summary>
public sealed record OptimizerTensor<T>(string Name, T[] Values, bool IsNorm);

/// <summary>
/// AdamW in the exact order of torch's single-tensor implementation (<c>torch/optim/adam.py</c> <c>_single_tensor_adam</c>
/// with <c>decoupled_weight_decay=True</c>, which <c>torch.optim.AdamW</c> is), per element, at the precision of
/// <typeparamref name="T"/> (float for the trainer, double for the reference), with the Python scalars computed in
/// double and rounded to T where torch wraps them:
/// <code>
/// p  = p · (1 − lr·wd)                            decoupled weight decay, first
/// m  = lerp(m, g, 1 − β1)                         torch.lerp: m + w(g − m) for |w| &lt; ½
/// v  = v·β2 + (1 − β2)·g·g                        addcmul
/// bc1 = 1 − β1^t;  bc2 = 1 − β2^t                 t = this step (1-based)
/// p  = p + (−lr/bc1) · m / (sqrt(v)/sqrt(bc2) + ε)   eps outside the square root; addcdiv
/// </code>
/// Bitwise parity with libtorch's vectorized kernels is not claimed (their reductions and FMA use are not ours); the
/// order and every constant are.
/// </summary>
public sealed class AdamW<T> where T : IFloatingPointIeee754<T>
{
    private readonly T[][] _m;
    private readonly T[][] _v;

    public AdamW(IReadOnlyList<OptimizerTensor<T>> parameters, AdamWOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        Parameters = parameters;
        Options = options ?? new AdamWOptions();
        _m = parameters.Select(p => new T[p.Values.Length]).ToArray();
        _v = parameters.Select(p => new T[p.Values.Length]).ToArray();
    }

    public IReadOnlyList<OptimizerTensor<T>> Parameters { get; }

    public AdamWOptions Options { get; }

    /// <summary>Optimizer steps taken (torch's <c>state["step"]</c>).</summary>
    public long StepCount { get; private set; }

    /// <summary>Sets the step count when restoring a checkpoint (the moments are restored into <see cref="FirstMoment"/>/<see cref="SecondMoment"/>).</summary>
    public void RestoreStepCount(long steps)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(steps);
        StepCount = steps;
    }

    /// <summary>The first moment of tensor <paramref name="i"/> (for checkpoints and tests).</summary>
    public T[] FirstMoment(int i) => _m[i];

    /// <summary>The second moment of tensor <paramref name="i"/>.</summary>
    public T[] SecondMoment(int i) => _v[i];

    /// <summary>True when weight decay applies to <paramref name="tensor"/>.</summary>
    public bool Decays(OptimizerTensor<T> tensor) => Options.DecayNorms || !(tensor?.IsNorm ?? throw new ArgumentNullException(nameof(tensor)));

    /// <summary>One update with learning rate <paramref name="lr"/>; <paramref name="gradients"/>[i] matches Parameters[i].</summary>
    public void Step(IReadOnlyList<T[]> gradients, double lr)
    {
        ArgumentNullException.ThrowIfNull(gradients);
        if (gradients.Count != Parameters.Count)
        {
            throw new ArgumentException($"Expected {Parameters.Count} gradient tensors, got {gradients.Count}.", nameof(gradients));
        }
        StepCount++;
        var o = Options;
        double t = StepCount;
        var bc1 = 1 - Math.Pow(o.Beta1, t);
        var bc2 = 1 - Math.Pow(o.Beta2, t);
        var stepSize = T.CreateChecked(-(lr / bc1));
        var bc2Sqrt = T.CreateChecked(Math.Sqrt(bc2));
        var lerpWeight = T.CreateChecked(1 - o.Beta1);
        var half = T.CreateChecked(0.5);
        var beta2 = T.CreateChecked(o.Beta2);
        var oneMinusBeta2 = T.CreateChecked(1 - o.Beta2);
        var eps = T.CreateChecked(o.Epsilon);
        for (var i = 0; i < Parameters.Count; i++)
        {
            var p = Parameters[i].Values;
            var g = gradients[i];
            if (g.Length != p.Length)
            {
                throw new ArgumentException($"Gradient of {Parameters[i].Name} has {g.Length} values, the tensor {p.Length}.", nameof(gradients));
            }
            var m = _m[i];
            var v = _v[i];
            var decay = Decays(Parameters[i]) && o.WeightDecay != 0 ? T.CreateChecked(1 - lr * o.WeightDecay) : T.One;
            for (var j = 0; j < p.Length; j++)
            {
                var pj = p[j] * decay;
                m[j] = T.Abs(lerpWeight) < half ? m[j] + lerpWeight * (g[j] - m[j]) : g[j] - (g[j] - m[j]) * (T.One - lerpWeight);
                v[j] = v[j] * beta2 + oneMinusBeta2 * g[j] * g[j];
                var denom = T.Sqrt(v[j]) / bc2Sqrt + eps;
                p[j] = pj + stepSize * m[j] / denom;
            }
        }
    }
}
