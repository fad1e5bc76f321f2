using System.Collections.Concurrent;
using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Server.Engine;

namespace EmbeddingGemma.Server.Tests;

/// <summary>
/// A deterministic stand-in engine with the real model's outward shape (768 dimensions, Matryoshka 512/256/128,
/// vocabulary 262144, the same prompt names): one token per character, a vector that depends only on the sequence
/// (so batching cannot change it), optional gate and per-token cost to hold batches open in tests and benchmarks.
/// </summary>
internal sealed class FakeBackend : IEmbeddingBackend
{
    public const int Bos = 2, Eos = 1;

    private static readonly Dictionary<string, string> PromptTable = new(StringComparer.Ordinal)
    {
        ["query"] = "task: search result | query: ",
        ["document"] = "title: none | text: ",
        ["Retrieval-query"] = "task: search result | query: ",
        ["Retrieval-document"] = "title: none | text: ",
        ["Clustering"] = "task: clustering | query: ",
        ["STS"] = "task: sentence similarity | query: ",
        ["retrieval_query"] = "task: search result | query: ",
        ["retrieval_document"] = "title: none | text: ",
        ["qa_query"] = "task: question answering | query: ",
        ["fact_checking"] = "task: fact checking | query: ",
        ["classification"] = "task: classification | query: ",
        ["clustering"] = "task: clustering | query: ",
        ["semantic_similarity"] = "task: sentence similarity | query: ",
        ["code_retrieval"] = "task: code retrieval | query: ",
    };

    public FakeBackend(int maxSequenceLength = 64, int dimension = 768)
    {
        Info = new BackendInfo
        {
            ModelName = "fake-embeddinggemma",
            Dimension = dimension,
            MaxSequenceLength = maxSequenceLength,
            VocabularySize = 262144,
            MatryoshkaDimensions = [768, 512, 256, 128],
            Prompts = PromptTable,
            OutOfVocabularyTokenNames = new Dictionary<int, string> { [262144] = "<image_soft_token>" },
            Source = "fake",
        };
    }

    public BackendInfo Info { get; }

    /// <summary>When set, EmbedBatch waits on it (tests hold a batch open).</summary>
    public SemaphoreSlim? Gate { get; set; }

    /// <summary>Signalled when EmbedBatch starts (before waiting on the gate).</summary>
    public SemaphoreSlim BatchStarted { get; } = new(0);

    /// <summary>Busy work per token (benchmarks): microseconds.</summary>
    public double MicrosecondsPerToken { get; set; }

    /// <summary>Every sequence that reached EmbedBatch, and batch sizes, in order.</summary>
    public ConcurrentQueue<int[]> Embedded { get; } = new();
    public ConcurrentQueue<int> BatchSizes { get; } = new();

    public static string PromptFor(string name, string? title) =>
        name is "document" or "retrieval_document" or "Retrieval-document"
            ? $"title: {title ?? "none"} | text: "
            : PromptTable[name];

    /// <summary>When set, Tokenize throws what it returns for a text (null: no fault): a bug in the engine.</summary>
    public Func<string, Exception?>? TokenizeFault { get; set; }

    public TokenizedInput Tokenize(string text, EncodeOptions options)
    {
        if (TokenizeFault?.Invoke(text) is { } fault)
        {
            throw fault;
        }
        string prompt = options.Prompt ?? (options.PromptName is null ? "" : PromptFor(options.PromptName, options.Title));
        string full = prompt + text;
        var ids = new List<int>(full.Length + 2) { Bos };
        foreach (char c in full)
        {
            ids.Add(3 + (c % 60000));
        }
        ids.Add(Eos);
        int max = Info.MaxSequenceLength;
        if (ids.Count <= max)
        {
            return new TokenizedInput([.. ids], false) { OriginalTokenCount = ids.Count };
        }
        if (!options.Truncate)
        {
            throw new EmbeddingGemmaException(ErrorKind.InputTooLong, $"The input has {ids.Count} tokens; the maximum is {max}.");
        }
        var cut = ids.Take(max).ToArray();
        cut[^1] = Eos;
        return new TokenizedInput(cut, true) { OriginalTokenCount = ids.Count };
    }

    public float[][] EmbedBatch(IReadOnlyList<TokenizedInput> inputs, CancellationToken cancellationToken)
    {
        BatchStarted.Release();
        Gate?.Wait(cancellationToken);
        BatchSizes.Enqueue(inputs.Count);
        var result = new float[inputs.Count][];
        for (int s = 0; s < inputs.Count; s++)
        {
            var ids = inputs[s].Ids;
            Embedded.Enqueue(ids);
            result[s] = Raw(ids, Info.Dimension);
            if (MicrosecondsPerToken > 0)
            {
                SpinFor(MicrosecondsPerToken * ids.Length);
            }
        }
        return result;
    }

    private static void SpinFor(double microseconds)
    {
        long end = System.Diagnostics.Stopwatch.GetTimestamp() + (long)(microseconds * System.Diagnostics.Stopwatch.Frequency / 1e6);
        while (System.Diagnostics.Stopwatch.GetTimestamp() < end)
        {
            Thread.SpinWait(20);
        }
    }

    /// <summary>The raw vector: a pure function of the sequence.</summary>
    public static float[] Raw(int[] ids, int dimension)
    {
        var v = new float[dimension];
        for (int p = 0; p < ids.Length; p++)
        {
            uint h = (uint)ids[p] * 2654435761u ^ (uint)p * 40503u;
            for (int k = 0; k < dimension; k++)
            {
                h = h * 1664525u + 1013904223u;
                v[k] += ((h >> 8) / (float)(1 << 24)) - 0.5f;
            }
        }
        for (int k = 0; k < dimension; k++)
        {
            v[k] /= ids.Length;
        }
        return v;
    }

    public float[] PostProcess(float[] raw, EncodeOptions options) => PostProcess(raw, options.Dimensions, options.Normalize);

    private static float[] PostProcess(float[] raw, int? dimensions, bool normalize)
    {
        var v = raw.AsSpan(0, dimensions ?? raw.Length).ToArray();
        if (normalize)
        {
            double sum = 0;
            foreach (float x in v)
            {
                sum += (double)x * x;
            }
            float inv = (float)(1.0 / Math.Sqrt(sum));
            for (int i = 0; i < v.Length; i++)
            {
                v[i] *= inv;
            }
        }
        return v;
    }

    /// <summary>What in-process use gives for a text (the oracle of the HTTP tests).</summary>
    public float[] Expected(string text, string? promptName = null, string? title = null, int? dimensions = null, bool normalize = true, bool truncate = true)
        => PostProcess(Raw(Tokenize(text, new EncodeOptions { PromptName = promptName, Title = title, Truncate = truncate }).Ids, Info.Dimension), dimensions, normalize);

    /// <summary>Token ids are used as given, cut to the maximum sequence length.</summary>
    public float[] ExpectedTokens(int[] ids, int? dimensions = null, bool normalize = true)
        => PostProcess(Raw(ids.Take(Info.MaxSequenceLength).ToArray(), Info.Dimension), dimensions, normalize);

    public void Dispose() => BatchStarted.Dispose();
}
