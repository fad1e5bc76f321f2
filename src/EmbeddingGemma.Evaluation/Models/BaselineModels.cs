using System.Globalization;

namespace EmbeddingGemma.Evaluation.Models;

/// <summary>
/// The built-in baselines by name: <c>bm25</c> (English analysis: stop words + Porter stemming), <c>bm25-plain</c>
/// (no stemming, no stop words), <c>bow[:DIMS]</c> (hashed bag of words, 768 by default), <c>random[:DIMS]</c>
/// (meaningless random vectors: the chance-level control).
/// </summary>
public static class BaselineModels
{
    public static bool TryCreate(string spec, out EvalModel? model)
    {
        var parts = spec.Split(':', 2);
        var name = parts[0].ToLowerInvariant();
        int dims = 768;
        if (parts.Length == 2 && (!int.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out dims) || dims < 1 || dims > 1 << 16))
        {
            model = null;
            return name is "bow" or "random" ? throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"--model {spec}: the size after ':' must be a positive integer.") : false;
        }
        model = name switch
        {
            "bm25" when parts.Length == 1 => EvalModel.Bm25Baseline(new Bm25Options(), "bm25"),
            "bm25-plain" when parts.Length == 1 => EvalModel.Bm25Baseline(new Bm25Options(EnglishAnalysis: false), "bm25-plain"),
            "bow" => EvalModel.FromGenerator(spec, new BagOfWordsEmbeddingGenerator(dims)),
            "random" => EvalModel.FromGenerator(spec, new RandomEmbeddingGenerator(dims)),
            _ => null,
        };
        return model is not null;
    }
}
