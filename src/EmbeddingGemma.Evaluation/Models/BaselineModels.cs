using System.Globalization;

namespace EmbeddingGemma.Evaluation.Models;

/// <summary>
/// The built-in baselines by name: <c>bm25</c> (English analysis: stop words + Porter stemming), <c>bm25-plain</c>
/// (no stemming, no stop words), <c>bm25-multifield</c> (title and text as separate fields, BEIR's Elasticsearch query);
/// any of them takes <c>:k1=..,b=..,tie=..</c>; <c>bow[:DIMS]</c> (hashed bag of words, 768 by default), <c>random[:DIMS]</c>
/// (meaningless random vectors: the chance-level control).
/// </summary>
public static class BaselineModels
{
    public static bool TryCreate(string spec, out EvalModel? model)
    {
        model = null;
        var parts = spec.Split(':', 2);
        var name = parts[0].ToLowerInvariant();
        if (name.StartsWith("bm25", StringComparison.Ordinal))
        {
            var options = name switch
            {
                "bm25" => new Bm25Options(),
                "bm25-plain" => new Bm25Options(EnglishAnalysis: false),
                "bm25-multifield" => new Bm25Options(MultiField: true),
                _ => null,
            };
            if (options is null)
            {
                return false;
            }
            if (parts.Length == 2)
            {
                // bm25[-variant]:k1=0.9,b=0.4,tie=1
                foreach (var kv in parts[1].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                {
                    var p = kv.Split('=', 2);
                    if (p.Length != 2 || !double.TryParse(p[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || v < 0)
                    {
                        throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"--model {spec}: expected k1=NUMBER, b=NUMBER or tie=NUMBER after ':', found '{kv}'.");
                    }
                    options = p[0].ToLowerInvariant() switch
                    {
                        "k1" => options with { K1 = v },
                        "b" => options with { B = v },
                        "tie" => options with { TieBreaker = v },
                        _ => throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"--model {spec}: unknown BM25 parameter '{p[0]}' (k1, b, tie)."),
                    };
                }
            }
            model = EvalModel.Bm25Baseline(options, spec);
            return true;
        }
        int dims = 768;
        if (parts.Length == 2 && (!int.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out dims) || dims < 1 || dims > 1 << 16))
        {
            return name is "bow" or "random" ? throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"--model {spec}: the size after ':' must be a positive integer.") : false;
        }
        model = name switch
        {
            "bow" => EvalModel.FromGenerator(spec, new BagOfWordsEmbeddingGenerator(dims)),
            "random" => EvalModel.FromGenerator(spec, new RandomEmbeddingGenerator(dims)),
            _ => null,
        };
        return model is not null;
    }
}
