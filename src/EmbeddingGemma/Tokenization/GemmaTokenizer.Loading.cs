using System.Text;

namespace EmbeddingGemma.Tokenization;

public sealed partial class GemmaTokenizer
{
    /// <summary>File name of the Hugging Face tokenizer.</summary>
    public const string TokenizerJsonFileName = "tokenizer.json";

    /// <summary>File name of the Hugging Face tokenizer configuration (add_bos_token / add_eos_token).</summary>
    public const string TokenizerConfigFileName = "tokenizer_config.json";

    /// <summary>
    /// Loads a tokenizer from a <c>tokenizer.json</c> file, or from a folder that holds one. A
    /// <c>tokenizer_config.json</c> beside it, when present, decides <c>add_bos_token</c>/<c>add_eos_token</c>
    /// (true/true when absent); <paramref name="options"/> override both.
    /// </summary>
    /// <exception cref="EmbeddingGemmaException">NotFound, InvalidFormat or Unsupported, naming the file and JSON path.</exception>
    public static GemmaTokenizer FromFile(string tokenizerJsonOrFolder, GemmaTokenizerOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(tokenizerJsonOrFolder);
        string jsonPath;
        if (Directory.Exists(tokenizerJsonOrFolder))
        {
            jsonPath = Path.Combine(tokenizerJsonOrFolder, TokenizerJsonFileName);
            if (!File.Exists(jsonPath))
            {
                throw new EmbeddingGemmaException(ErrorKind.NotFound,
                    $"{tokenizerJsonOrFolder}: the folder has no {TokenizerJsonFileName}") { FilePath = jsonPath };
            }
        }
        else if (File.Exists(tokenizerJsonOrFolder))
        {
            jsonPath = tokenizerJsonOrFolder;
        }
        else
        {
            throw new EmbeddingGemmaException(ErrorKind.NotFound,
                $"{tokenizerJsonOrFolder}: no such file or folder (expected a tokenizer.json or a model folder holding one)")
            { FilePath = tokenizerJsonOrFolder };
        }
        var configPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(jsonPath))!, TokenizerConfigFileName);
        byte[] json;
        byte[]? config;
        try
        {
            json = File.ReadAllBytes(jsonPath);
            config = File.Exists(configPath) ? File.ReadAllBytes(configPath) : null;
        }
        catch (IOException e)
        {
            throw new EmbeddingGemmaException(ErrorKind.NotFound, $"{jsonPath}: cannot be read: {e.Message}", e) { FilePath = jsonPath };
        }
        catch (UnauthorizedAccessException e)
        {
            throw new EmbeddingGemmaException(ErrorKind.NotFound, $"{jsonPath}: cannot be read: {e.Message}", e) { FilePath = jsonPath };
        }
        return Create(json, jsonPath, config, configPath, options);
    }

    /// <summary>Loads a tokenizer from the text of a <c>tokenizer.json</c> and, optionally, of a <c>tokenizer_config.json</c>.</summary>
    public static GemmaTokenizer FromJson(string tokenizerJson, string? tokenizerConfigJson = null, GemmaTokenizerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizerJson);
        return Create(Encoding.UTF8.GetBytes(tokenizerJson), TokenizerJsonFileName,
            tokenizerConfigJson is null ? null : Encoding.UTF8.GetBytes(tokenizerConfigJson), TokenizerConfigFileName, options);
    }

    /// <summary>Loads a tokenizer from UTF-8 <c>tokenizer.json</c> bytes (and optionally <c>tokenizer_config.json</c> bytes).</summary>
    public static GemmaTokenizer FromUtf8Json(ReadOnlySpan<byte> tokenizerJson, ReadOnlySpan<byte> tokenizerConfigJson = default, GemmaTokenizerOptions? options = null) =>
        Create(tokenizerJson, TokenizerJsonFileName, tokenizerConfigJson.IsEmpty ? null : tokenizerConfigJson.ToArray(), TokenizerConfigFileName, options);

    /// <summary>
    /// Builds a tokenizer from a GGUF SentencePiece vocabulary. CONTROL, USER_DEFINED and UNKNOWN pieces are matched
    /// literally in the raw text (CONTROL and UNKNOWN are special); the others merge by score, highest first,
    /// leftmost on ties, as SentencePiece BPE does.
    /// </summary>
    public GemmaTokenizer(SentencePieceVocabulary vocabulary, GemmaTokenizerOptions? options = null)
        : this(FromVocabulary(vocabulary, options))
    {
    }

    private static GemmaTokenizer Create(ReadOnlySpan<byte> json, string jsonSource, byte[]? config, string configSource, GemmaTokenizerOptions? options)
    {
        var definition = TokenizerJsonLoader.Load(json, jsonSource);
        bool? cfgBos = null, cfgEos = null;
        if (config is not null)
        {
            (cfgBos, cfgEos) = TokenizerJsonLoader.LoadConfig(config, configSource);
        }
        var addBos = options?.AddBosToken ?? cfgBos ?? true;
        var addEos = options?.AddEosToken ?? cfgEos ?? true;
        try
        {
            return new GemmaTokenizer(FromDefinition(definition, jsonSource, options, addBos, addEos));
        }
        catch (EmbeddingGemmaException e) when (e.FilePath is null && e.Kind == ErrorKind.InvalidFormat)
        {
            throw new EmbeddingGemmaException(e.Kind, $"{jsonSource}: {e.Message}", e) { FilePath = jsonSource };
        }
    }

    private static int CacheSize(GemmaTokenizerOptions? options) => options?.WordCacheSize switch
    {
        null => WordCache.DefaultMaxEntries,
        < 0 => throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"WordCacheSize must be 0 or more, found {options.WordCacheSize}"),
        int n => n,
    };

    private static Parts FromDefinition(TokenizerDefinition d, string source, GemmaTokenizerOptions? options, bool addBos, bool addEos)
    {
        var bpeSize = 0;
        foreach (var id in d.Vocab.Values)
        {
            bpeSize = Math.Max(bpeSize, id + 1);
        }
        var rows = options?.EmbeddingRows ?? bpeSize;
        if (rows < bpeSize)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument,
                $"{source}: EmbeddingRows is {rows} but the BPE vocabulary ($.model.vocab) has ids up to {bpeSize - 1}; the embedding table must cover it");
        }
        for (var i = 0; i < d.AddedTokens.Count; i++)
        {
            var t = d.AddedTokens[i];
            // Hugging Face gives an added token the vocabulary's id when its content is a piece; a file that says
            // otherwise would silently disagree with it.
            if (d.Vocab.TryGetValue(t.Content, out var vocabId) && vocabId != t.Id)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidFormat,
                    $"{source}: $.added_tokens[{i}]: \"{t.Content}\" has id {t.Id} but $.model.vocab gives it id {vocabId}");
            }
            if (!d.Vocab.ContainsKey(t.Content) && t.Id < bpeSize)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidFormat,
                    $"{source}: $.added_tokens[{i}]: \"{t.Content}\" is not in $.model.vocab, so its id must be at least {bpeSize}, found {t.Id}");
            }
        }
        if (d.AddedTokens.GroupBy(t => t.Id).FirstOrDefault(g => g.Count() > 1) is { } dup)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{source}: $.added_tokens: id {dup.Key} is used {dup.Count()} times");
        }
        var added = d.AddedTokens.Where(t => t.Id < rows).ToList();
        var size = bpeSize;
        foreach (var t in added)
        {
            size = Math.Max(size, t.Id + 1);
        }

        var pieces = new string[size];
        var types = new SentencePieceTokenType[size];
        var isSpecial = new bool[size];
        foreach (var (piece, id) in d.Vocab)
        {
            if (pieces[id] is not null)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{source}: $.model.vocab: id {id} is used by both \"{pieces[id]}\" and \"{piece}\"");
            }
            pieces[id] = piece;
            types[id] = IsBytePiece(piece, out _) ? SentencePieceTokenType.Byte : SentencePieceTokenType.Normal;
        }
        var unkId = d.UnkToken is null ? -1 : d.Vocab[d.UnkToken];
        foreach (var t in added)
        {
            pieces[t.Id] = t.Content;
            isSpecial[t.Id] = t.Special;
            types[t.Id] = t.Special ? SentencePieceTokenType.Control : SentencePieceTokenType.UserDefined;
        }
        if (unkId >= 0)
        {
            types[unkId] = SentencePieceTokenType.Unknown;
        }
        for (var id = 0; id < size; id++)
        {
            if (pieces[id] is null)
            {
                pieces[id] = string.Empty;
                types[id] = SentencePieceTokenType.Unused;
            }
        }

        var merges = new MergeTable(d.Merges.Count);
        var firstRank = new int[size];
        firstRank.AsSpan().Fill(-1);
        for (var rank = 0; rank < d.Merges.Count; rank++)
        {
            var (left, right, merged) = d.Merges[rank];
            merges.Set(left, right, rank, merged);
            if (firstRank[merged] < 0)
            {
                firstRank[merged] = rank;
            }
        }
        // GGUF scores: score-ordered merging must reproduce the merge ranks. A piece made by merges scores minus the
        // rank of the first merge that makes it; any other piece scores below every merge.
        var scores = new float[size];
        for (var id = 0; id < size; id++)
        {
            scores[id] = firstRank[id] >= 0 ? -firstRank[id] : -(d.Merges.Count + (float)id);
        }

        return new Parts
        {
            Pieces = pieces,
            Scores = scores,
            Types = types,
            IsSpecial = isSpecial,
            Merges = merges,
            AddedTokens = added,
            BpeVocabulary = d.Vocab,
            UnkId = unkId,
            ByteFallback = d.ByteFallback,
            FuseUnk = d.FuseUnk,
            IgnoreMerges = d.IgnoreMerges,
            NormalizeFrom = d.NormalizeFrom,
            NormalizeTo = d.NormalizeTo,
            AddBos = addBos,
            AddEos = addEos,
            WordCacheSize = CacheSize(options),
        };
    }

    private static Parts FromVocabulary(SentencePieceVocabulary v, GemmaTokenizerOptions? options)
    {
        ArgumentNullException.ThrowIfNull(v);
        const string Source = "SentencePiece vocabulary";
        var count = v.Tokens.Count;
        if (count == 0)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{Source}: tokenizer.ggml.tokens is empty");
        }
        if (v.Scores.Count != count || v.TokenTypes.Count != count)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat,
                $"{Source}: tokenizer.ggml.tokens has {count} entries, scores {v.Scores.Count}, token_type {v.TokenTypes.Count}; they must be equal");
        }
        if (v.AddSpacePrefix)
        {
            throw new EmbeddingGemmaException(ErrorKind.Unsupported, $"{Source}: tokenizer.ggml.add_space_prefix = true is not supported (Gemma writes false)");
        }
        var rows = options?.EmbeddingRows ?? count;
        var size = Math.Min(rows, count);
        var pieces = new string[size];
        var scores = new float[size];
        var types = new SentencePieceTokenType[size];
        var isSpecial = new bool[size];
        var added = new List<AddedToken>();
        var bpeVocabulary = new List<KeyValuePair<string, int>>(size);
        var lookup = new Dictionary<string, int>(size, StringComparer.Ordinal);
        for (var id = 0; id < count; id++)
        {
            var type = v.TokenTypes[id];
            if (type is < SentencePieceTokenType.Normal or > SentencePieceTokenType.Byte)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{Source}: tokenizer.ggml.token_type[{id}] is {(int)type}; expected 1..6");
            }
            var piece = v.Tokens[id] ?? throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{Source}: tokenizer.ggml.tokens[{id}] is null");
            if (id >= size)
            {
                if (type is SentencePieceTokenType.Normal or SentencePieceTokenType.Byte)
                {
                    throw new EmbeddingGemmaException(ErrorKind.InvalidArgument,
                        $"{Source}: EmbeddingRows is {rows} but token {id} (\"{piece}\", {type}) is a BPE piece; the embedding table must cover every BPE piece");
                }
                continue; // an added token outside the embedding table: never produced
            }
            pieces[id] = piece;
            scores[id] = v.Scores[id];
            types[id] = type;
            isSpecial[id] = type is SentencePieceTokenType.Control or SentencePieceTokenType.Unknown;
            if (type is SentencePieceTokenType.Control or SentencePieceTokenType.UserDefined or SentencePieceTokenType.Unknown && piece.Length > 0)
            {
                added.Add(new AddedToken(id, piece, isSpecial[id]));
            }
            if (type != SentencePieceTokenType.Unused)
            {
                bpeVocabulary.Add(new(piece, id));
                lookup.TryAdd(piece, id);
            }
        }

        // Merge table from scores: every split of a NORMAL / USER_DEFINED piece into two pieces is a merge; the rank
        // orders pieces by score (highest first, then id), so merges that make the same piece share a rank and the
        // leftmost wins, as in SentencePiece's BPE.
        var candidates = Enumerable.Range(0, size)
            .Where(id => types[id] is SentencePieceTokenType.Normal or SentencePieceTokenType.UserDefined && pieces[id].Length > 1)
            .OrderByDescending(id => scores[id]).ThenBy(id => id)
            .ToArray();
        var merges = new MergeTable(candidates.Length * 4);
        var alt = lookup.GetAlternateLookup<ReadOnlySpan<char>>();
        for (var rank = 0; rank < candidates.Length; rank++)
        {
            var id = candidates[rank];
            var piece = pieces[id].AsSpan();
            for (var k = 1; k < piece.Length; k++)
            {
                if (char.IsLowSurrogate(piece[k]) && char.IsHighSurrogate(piece[k - 1]))
                {
                    continue;
                }
                if (alt.TryGetValue(piece[..k], out var left) && alt.TryGetValue(piece[k..], out var right))
                {
                    merges.TryAdd(left, right, rank, id);
                }
            }
        }

        var unkId = (uint)v.UnkId < (uint)size ? v.UnkId : -1;
        return new Parts
        {
            Pieces = pieces,
            Scores = scores,
            Types = types,
            IsSpecial = isSpecial,
            Merges = merges,
            AddedTokens = added,
            BpeVocabulary = bpeVocabulary,
            UnkId = unkId,
            ByteFallback = types.Contains(SentencePieceTokenType.Byte),
            FuseUnk = true,
            IgnoreMerges = false,
            NormalizeFrom = ' ',
            NormalizeTo = '\u2581',
            AddBos = options?.AddBosToken ?? v.AddBosToken,
            AddEos = options?.AddEosToken ?? v.AddEosToken,
            BosId = v.BosId,
            EosId = v.EosId,
            PadId = v.PadId,
            WordCacheSize = CacheSize(options),
        };
    }
}
