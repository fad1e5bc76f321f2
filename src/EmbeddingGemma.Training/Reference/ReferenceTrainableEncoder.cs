using EmbeddingGemma.Model;

namespace EmbeddingGemma.Training.Reference;

/// <summary>
/// <see cref="ITrainableEncoder"/> over the fp64 reference (<see cref="ReferenceModel"/>): the trainer's fp32 tensors
/// are widened to fp64 before every call (exact), the forward and backward run in fp64, and the gradients are rounded
/// to fp32 once when added to the trainer's buffers. Slow (scalar fp64, one sequence at a time) but exact: the oracle
/// the fast fp32 encoder is checked against, and what the trainer uses when nothing faster is available.
/// Forwards of a call run in parallel (<see cref="Threads"/>); backwards run in sequence order, so gradients are
/// bit-reproducible whatever the thread count.
/// </summary>
public sealed class ReferenceTrainableEncoder : ITrainableEncoder
{
    private readonly ReferenceParameters _parameters;
    private readonly ReferenceModel _model;
    private readonly ReferenceParameters _gradients;
    private readonly TrainableTensor[] _tensors;

    public ReferenceTrainableEncoder(ModelCheckpoint checkpoint, int threads = 0)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        _parameters = ReferenceParameters.FromCheckpoint(checkpoint);
        _model = new ReferenceModel(_parameters);
        _gradients = _parameters.ZerosLike();
        _tensors = _parameters.Tensors.Select(t => new TrainableTensor(t.Name, t.Shape, Array.ConvertAll(t.Values, v => (float)v), t.IsNorm)).ToArray();
        Threads = threads > 0 ? threads : Environment.ProcessorCount;
    }

    /// <summary>The factory the trainer takes (<see cref="TrainerOptions.EncoderFactory"/>).</summary>
    public static ITrainableEncoder Create(ModelCheckpoint checkpoint, TrainerOptions options) =>
        new ReferenceTrainableEncoder(checkpoint, (options ?? throw new ArgumentNullException(nameof(options))).Threads);

    /// <summary>Parallel forwards per call.</summary>
    public int Threads { get; }

    public IReadOnlyList<TrainableTensor> Tensors => _tensors;

    public GemmaConfig Config => _parameters.Config;

    public float[][] Embed(IReadOnlyList<int[]> sequences, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        Sync(sequences);
        var result = new float[sequences.Count][];
        Parallel.For(0, sequences.Count, new ParallelOptions { MaxDegreeOfParallelism = Threads, CancellationToken = cancellationToken },
            i => result[i] = Array.ConvertAll(_model.Embed(sequences[i]), v => (float)v));
        return result;
    }

    public void Backward(IReadOnlyList<int[]> sequences, IReadOnlyList<float[]> outputGradients, IReadOnlyList<float[]> gradients,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        ArgumentNullException.ThrowIfNull(outputGradients);
        ArgumentNullException.ThrowIfNull(gradients);
        if (outputGradients.Count != sequences.Count || gradients.Count != _tensors.Length)
        {
            throw new ArgumentException($"Backward needs one output gradient per sequence ({sequences.Count}) and one gradient buffer per tensor ({_tensors.Length}).");
        }
        Sync(sequences);
        var acts = new SequenceActivations[sequences.Count];
        Parallel.For(0, sequences.Count, new ParallelOptions { MaxDegreeOfParallelism = Threads, CancellationToken = cancellationToken },
            i => acts[i] = _model.Forward(sequences[i]));
        var refGrads = _gradients.Tensors;
        var embeddingRows = TouchedRows(sequences);
        var h = Config.HiddenSize;
        // zero the accumulator (the embedding only on the rows this call touches)
        for (var t = 1; t < refGrads.Count; t++)
        {
            Array.Clear(refGrads[t].Values);
        }
        foreach (var row in embeddingRows)
        {
            Array.Clear(refGrads[0].Values, row * h, h);
        }
        for (var i = 0; i < sequences.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var dy = Array.ConvertAll(outputGradients[i], v => (double)v);
            _model.Backward(acts[i], dy, _gradients);
        }
        for (var t = 0; t < refGrads.Count; t++)
        {
            var dst = gradients[t];
            if (dst.Length == 0)
            {
                continue;
            }
            if (dst.Length != _tensors[t].Values.Length)
            {
                throw new ArgumentException($"Gradient buffer of {_tensors[t].Name} has {dst.Length} values, the tensor {_tensors[t].Values.Length}.", nameof(gradients));
            }
            var src = refGrads[t].Values;
            if (t == 0)
            {
                foreach (var row in embeddingRows)
                {
                    for (var j = row * h; j < (row + 1) * h; j++)
                    {
                        dst[j] += (float)src[j];
                    }
                }
                continue;
            }
            for (var j = 0; j < dst.Length; j++)
            {
                dst[j] += (float)src[j];
            }
        }
    }

    private static SortedSet<int> TouchedRows(IReadOnlyList<int[]> sequences)
    {
        var rows = new SortedSet<int>();
        foreach (var s in sequences)
        {
            rows.UnionWith(s);
        }
        return rows;
    }

    // fp32 -> fp64 (exact). The embedding only on the rows used: the others are never read.
    private void Sync(IReadOnlyList<int[]> sequences)
    {
        var p = _parameters.Tensors;
        for (var t = 1; t < p.Count; t++)
        {
            var src = _tensors[t].Values;
            var dst = p[t].Values;
            for (var j = 0; j < src.Length; j++)
            {
                dst[j] = src[j];
            }
        }
        var h = Config.HiddenSize;
        var table = _tensors[0].Values;
        var wide = p[0].Values;
        foreach (var s in sequences)
        {
            foreach (var id in s)
            {
                if ((uint)id < (uint)Config.VocabSize)
                {
                    for (var j = id * h; j < (id + 1) * h; j++)
                    {
                        wide[j] = table[j];
                    }
                }
            }
        }
    }
}
