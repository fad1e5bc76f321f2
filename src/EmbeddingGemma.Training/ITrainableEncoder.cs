using EmbeddingGemma.Model;

namespace EmbeddingGemma.Training;

/// <summary>
/// One trainable tensor: its Hugging Face name (as <see cref="EmbeddingGemma.Formats.TensorNameMap"/> spells it), shape, fp32 values (updated in
/// place by the optimizer) and whether it is an RMSNorm weight (stored zero-centred, HF's <c>w</c>, not <c>1 + w</c>;
/// excluded from weight decay unless asked). <see cref="Trainable"/> false: frozen (no gradient, no optimizer state).
/// </summary>
public sealed record TrainableTensor(string Name, int[] Shape, float[] Values, bool IsNorm, bool Trainable = true)
{
    public long Count => Values.LongLength;
}

/// <summary>
/// The seam between the trainer and an encoder with a backward pass: "embed, loss on embeddings, backprop per chunk"
/// (training.md, loss 4). The trainer (1) calls <see cref="Embed"/> on every text of a batch, (2) computes the loss and
/// G = ∂L/∂Y on the unit vectors, (3) calls <see cref="Backward"/> per mini-batch, which re-runs the forward with
/// activations (exact: the model has no dropout) and adds ∂L/∂θ into <c>gradients</c> (same order and sizes
/// as <see cref="Tensors"/>; entries of frozen tensors may be empty arrays). Sequences are token ids with the prompt and
/// &lt;bos&gt;/&lt;eos&gt; already applied. Implementations: the fp32 fast encoder (<c>Fast/</c>) and an fp64 reference adapter.
/// </summary>
public interface ITrainableEncoder
{
    /// <summary>Every parameter in forward order (embedding, layers, final norm, Dense heads).</summary>
    IReadOnlyList<TrainableTensor> Tensors { get; }

    /// <summary>The model's configuration (hidden size, layers, window, vocabulary, maximum length).</summary>
    GemmaConfig Config { get; }

    /// <summary>The unit-vector embeddings of <paramref name="sequences"/> (no activations kept), one per sequence.</summary>
    float[][] Embed(IReadOnlyList<int[]> sequences, CancellationToken cancellationToken = default);

    /// <summary>
    /// Re-runs the forward on <paramref name="sequences"/> with activations and adds the parameter gradients of
    /// Σᵢ ⟨yᵢ, <paramref name="outputGradients"/>ᵢ⟩ into <paramref name="gradients"/> (one array per tensor of
    /// <see cref="Tensors"/>, same length, or empty for a frozen tensor).
    /// </summary>
    void Backward(IReadOnlyList<int[]> sequences, IReadOnlyList<float[]> outputGradients, IReadOnlyList<float[]> gradients,
        CancellationToken cancellationToken = default);

    /// <summary>
    /// Lets go of the activation buffers kept between calls (the next call allocates them again). The trainer calls it
    /// when training ends, so evaluating and saving do not run beside gigabytes of idle activations.
    /// </summary>
    void ReleaseBuffers()
    {
    }
}
