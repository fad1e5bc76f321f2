namespace EmbeddingGemma.Model.V2;

/// <summary>
/// The EmbeddingGemma 2 reference forward pass (spec2 §2.8): plain loops, fp32 activations, double accumulation,
/// named intermediates through an <see cref="IntermediateHook"/>. The oracle for any faster engine, not the fast path.
/// x0 = E[ids]·sqrt(D); ple = PLE(x0); 24 layers (attention, MLP, PLE block, layer scalar); final norm (plain w);
/// per-token embedding_projection D -> E; mean over the non-padding tokens (BOS, prompt and EOS included; ST Pooling
/// include_prompt); the pipeline L2-normalizes. <see cref="ISequenceEncoder.EncodePooled"/> returns the [E] means.
/// </summary>
public sealed class ReferenceEncoder2 : ISequenceEncoder
{
    private readonly EmbeddingGemma2Weights _weights;
    private readonly ParallelOptions _parallel;

    /// <summary>A reference encoder over <paramref name="weights"/>; <paramref name="threads"/> ≤ 0: all cores.</summary>
    public ReferenceEncoder2(EmbeddingGemma2Weights weights, IntermediateHook? hook = null, int threads = 0)
    {
        ArgumentNullException.ThrowIfNull(weights);
        _weights = weights;
        Hook = hook;
        _parallel = new ParallelOptions { MaxDegreeOfParallelism = threads <= 0 ? -1 : threads };
    }

    /// <summary>The v1-shaped summary (vocabulary, token limit 8,192); the full configuration is <see cref="Config2"/>.</summary>
    public GemmaConfig Config => _weights.Summary;

    /// <summary>The EmbeddingGemma 2 configuration.</summary>
    public EmbeddingGemma2Config Config2 => _weights.Config;

    /// <inheritdoc />
    public int OutputDimension => _weights.Config.EmbeddingDim;

    /// <summary>Observer of named intermediates (null: none).</summary>
    public IntermediateHook? Hook { get; }

    /// <summary>
    /// Final-norm hidden states [S, D]. <paramref name="mask"/> (empty: all true) marks real tokens; false positions
    /// (right padding) are never attended to. Every position is computed; padded rows stay finite.
    /// </summary>
    public float[] EncodeTokens(ReadOnlySpan<int> ids, ReadOnlySpan<bool> mask = default, CancellationToken cancellationToken = default)
    {
        var c = Config2;
        ValidateIds(c, ids);
        var s = ids.Length;
        var m = mask.IsEmpty ? Enumerable.Repeat(true, s).ToArray() : mask.ToArray();
        if (m.Length != s)
        {
            throw new ArgumentException($"mask has {m.Length} entries for {s} ids.", nameof(mask));
        }
        var hidden = new float[s * c.HiddenSize];
        ScaledEmbedding2.Forward(_weights, ids, hidden);
        Hook?.Invoke("embed", hidden, s, c.HiddenSize);
        var ple = PerLayerEmbedding.Forward(_weights, hidden, s, Hook, _parallel);
        for (var l = 0; l < c.NumHiddenLayers; l++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            EncoderLayer2.Forward(c, _weights.Layers[l], l, hidden, s, m, ple, Hook, _parallel);
        }
        RmsNorm2.Forward(hidden, _weights.FinalNormGain, c.RmsNormEps, hidden);
        Hook?.Invoke("final_norm", hidden, s, c.HiddenSize);
        return hidden;
    }

    /// <summary>
    /// The per-token embedding_projection [S, E] of final-norm states (HF-MOD: last_hidden_state is projected per token;
    /// LC-GRAPH output.weight per row; spec2 §2.7, §8.10).
    /// </summary>
    public float[] ProjectTokens(ReadOnlySpan<float> finalNorm, int s)
    {
        var y = new float[s * Config2.EmbeddingDim];
        Linear.Forward(finalNorm, s, _weights.EmbeddingProjection, y, _parallel);
        Hook?.Invoke("projected", y, s, Config2.EmbeddingDim);
        return y;
    }

    /// <inheritdoc />
    public void EncodePooled(IReadOnlyList<ReadOnlyMemory<int>> sequences, Span<float> pooled, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        var e = OutputDimension;
        if (pooled.Length < sequences.Count * e)
        {
            throw new ArgumentException($"pooled needs {sequences.Count * e} floats, got {pooled.Length}.", nameof(pooled));
        }
        for (var n = 0; n < sequences.Count; n++)
        {
            var ids = sequences[n].Span;
            var projected = ProjectTokens(EncodeTokens(ids, default, cancellationToken), ids.Length);
            var dst = pooled.Slice(n * e, e);
            MeanPool(projected, ids.Length, e, default, dst);
            Hook?.Invoke("pooled", dst, 1, e);
        }
    }

    /// <summary>
    /// Encodes a right-padded batch the way transformers does: every sequence padded with pad_token_id to the longest,
    /// attention mask 0 on padding (keys never visible, positions excluded from the mean). Returns the pooled [E]
    /// vector of each sequence (before L2). Equal to encoding each sequence alone.
    /// </summary>
    public float[][] EncodePaddedBatch(IReadOnlyList<int[]> sequences, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        var len = sequences.Max(x => x.Length);
        var result = new float[sequences.Count][];
        for (var n = 0; n < sequences.Count; n++)
        {
            var ids = new int[len];
            var mask = new bool[len];
            Array.Fill(ids, Config2.PadTokenId);
            sequences[n].CopyTo(ids, 0);
            Array.Fill(mask, true, 0, sequences[n].Length);
            var projected = ProjectTokens(EncodeTokens(ids, mask, cancellationToken), len);
            result[n] = new float[OutputDimension];
            MeanPool(projected, len, OutputDimension, mask, result[n]);
        }
        return result;
    }

    /// <summary>Mean over the positions with mask true (empty mask: all), by selection (NaN·0 never happens); double accumulation.</summary>
    public static void MeanPool(ReadOnlySpan<float> rows, int s, int width, ReadOnlySpan<bool> mask, Span<float> destination)
    {
        var count = 0;
        for (var t = 0; t < s; t++)
        {
            count += mask.IsEmpty || mask[t] ? 1 : 0;
        }
        for (var i = 0; i < width; i++)
        {
            double acc = 0;
            for (var t = 0; t < s; t++)
            {
                if (mask.IsEmpty || mask[t])
                {
                    acc += rows[t * width + i];
                }
            }
            destination[i] = (float)(acc / Math.Max(count, 1));
        }
    }

    /// <summary>Checks 1 &lt;= length &lt;= 8,192 (the supported context, spec2 §8.12) and every id inside the vocabulary.</summary>
    public static void ValidateIds(EmbeddingGemma2Config config, ReadOnlySpan<int> ids)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (ids.Length == 0)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, "A sequence needs at least one token id.");
        }
        if (ids.Length > config.MaxTokens)
        {
            throw new EmbeddingGemmaException(ErrorKind.InputTooLong, $"A sequence of {ids.Length} tokens exceeds EmbeddingGemma 2's limit of {config.MaxTokens} tokens (BOS/EOS included).");
        }
        for (var i = 0; i < ids.Length; i++)
        {
            if ((uint)ids[i] >= (uint)config.VocabSize)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Token id {ids[i]} at position {i} is outside the vocabulary (0..{config.VocabSize - 1}).");
            }
        }
    }
}
