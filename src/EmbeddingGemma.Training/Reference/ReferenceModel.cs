using EmbeddingGemma.Model;

namespace EmbeddingGemma.Training.Reference;

/// <summary>
/// The whole sentence-transformers pipeline in fp64 with an exact backward, for one sequence at a time (no padding,
/// as the core's reference encoder): embedding (op 1) → layers (<see cref="ReferenceLayer"/>) → final RMSNorm (op 11)
/// → mean pool (op 12) → Dense heads (op 13) → L2 normalize (op 14). The output is the unit vector; Matryoshka and the
/// losses act on it (<c>Losses</c>). <see cref="Forward"/> keeps every activation the backward needs in a
/// <see cref="SequenceActivations"/>; <see cref="Backward"/> adds the parameter gradients of one sequence, so a batch's
/// gradient is the sum over its sequences ("embed, loss on embeddings, backprop per chunk").
/// </summary>
public sealed class ReferenceModel
{
    public ReferenceModel(ReferenceParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        Parameters = parameters;
    }

    public ReferenceParameters Parameters { get; }

    public GemmaConfig Config => Parameters.Config;

    /// <summary>The unit-vector embedding of <paramref name="ids"/> (activations dropped).</summary>
    public double[] Embed(int[] ids) => Forward(ids).Output;

    /// <summary>Runs the pipeline on <paramref name="ids"/> (used as given: add &lt;bos&gt;/&lt;eos&gt; before) and keeps the activations.</summary>
    public SequenceActivations Forward(int[] ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var c = Config;
        if (ids.Length == 0 || ids.Length > c.MaxPositionEmbeddings)
        {
            throw new ArgumentException($"A sequence needs 1..{c.MaxPositionEmbeddings} tokens, got {ids.Length}.", nameof(ids));
        }
        foreach (var id in ids)
        {
            if ((uint)id >= (uint)c.VocabSize)
            {
                throw new ArgumentException($"Token id {id} is outside the vocabulary (0..{c.VocabSize - 1}).", nameof(ids));
            }
        }
        int s = ids.Length, h = c.HiddenSize;
        var p = Parameters;
        var act = new SequenceActivations(ids, p.Layers.Count, p.Dense.Count);
        var hidden = new double[s * h];
        ScaledEmbedding.Forward(p.Embedding, h, ids, ScaledEmbedding.Scale(h), hidden);
        for (var l = 0; l < p.Layers.Count; l++)
        {
            act.Layers[l] = ReferenceLayer.Forward(c, p.Layers[l], l, hidden, s);
            hidden = act.Layers[l].Output;
        }
        act.PreFinalNorm = hidden;
        act.FinalNormR = new double[s];
        act.Hidden = new double[s * h];
        RmsNorm.Forward(hidden, s, h, p.FinalNorm, c.RmsNormEps, act.Hidden, act.FinalNormR);
        var z = new double[h];
        MeanPool.Forward(act.Hidden, s, h, z);
        act.Pooled = z;
        for (var i = 0; i < p.Dense.Count; i++)
        {
            act.DenseInputs[i] = z;
            var shape = p.DenseShapes[i];
            var next = new double[shape[0]];
            Linear.Forward(z, 1, p.Dense[i], shape[0], shape[1], next);
            z = next;
        }
        act.Unnormalized = z;
        act.Output = new double[z.Length];
        act.Norm = L2Normalize.Forward(z, act.Output);
        return act;
    }

    /// <summary>Adds to <paramref name="gradients"/> the gradient of <c>⟨dOutput, Output⟩</c> for this sequence.</summary>
    public void Backward(SequenceActivations act, ReadOnlySpan<double> dOutput, ReferenceParameters gradients)
    {
        ArgumentNullException.ThrowIfNull(act);
        ArgumentNullException.ThrowIfNull(gradients);
        var c = Config;
        var p = Parameters;
        int s = act.Ids.Length, h = c.HiddenSize;
        var dz = new double[act.Unnormalized.Length];
        L2Normalize.Backward(dOutput, act.Output, act.Norm, dz);
        for (var i = p.Dense.Count - 1; i >= 0; i--)
        {
            var shape = p.DenseShapes[i];
            var dIn = new double[shape[1]];
            Linear.Backward(dz, act.DenseInputs[i], 1, p.Dense[i], shape[0], shape[1], dIn, gradients.Dense[i]);
            dz = dIn;
        }
        var dHidden = new double[s * h];
        MeanPool.Backward(dz, s, h, dHidden);
        var dh = new double[s * h];
        RmsNorm.Backward(dHidden, act.PreFinalNorm, act.FinalNormR, s, h, p.FinalNorm, dh, gradients.FinalNorm);
        for (var l = p.Layers.Count - 1; l >= 0; l--)
        {
            dh = ReferenceLayer.Backward(c, p.Layers[l], l, act.Layers[l], dh, s, gradients.Layers[l]);
        }
        ScaledEmbedding.Backward(dh, h, act.Ids, ScaledEmbedding.Scale(h), gradients.Embedding);
    }
}

/// <summary>What <see cref="ReferenceModel.Backward"/> needs of one sequence's forward.</summary>
public sealed class SequenceActivations
{
    internal SequenceActivations(int[] ids, int layers, int dense)
    {
        Ids = ids;
        Layers = new LayerActivations[layers];
        DenseInputs = new double[dense][];
    }

    public int[] Ids { get; }
    internal LayerActivations[] Layers { get; }
    internal double[] PreFinalNorm { get; set; } = [];
    internal double[] FinalNormR { get; set; } = [];

    /// <summary>Final-norm hidden states [S, hidden] (sentence-transformers' token_embeddings).</summary>
    public double[] Hidden { get; internal set; } = [];

    /// <summary>The mean-pooled vector [hidden].</summary>
    public double[] Pooled { get; internal set; } = [];

    internal double[][] DenseInputs { get; }

    /// <summary>The last Dense output (before Normalize).</summary>
    public double[] Unnormalized { get; internal set; } = [];

    /// <summary>‖Unnormalized‖.</summary>
    public double Norm { get; internal set; }

    /// <summary>The unit vector.</summary>
    public double[] Output { get; internal set; } = [];
}
