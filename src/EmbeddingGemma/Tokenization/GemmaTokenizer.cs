using System.Text;

namespace EmbeddingGemma.Tokenization;

/// <summary>
/// The Gemma 3 tokenizer (SentencePiece BPE with byte fallback), in managed C#. Loads a Hugging Face
/// <c>tokenizer.json</c> (+ <c>tokenizer_config.json</c>) or a GGUF SentencePiece vocabulary and reproduces
/// Hugging Face tokenizers' ids. Immutable and thread-safe after construction.
/// </summary>
/// <remarks>
/// Pipeline: added tokens are matched on the raw text, leftmost-longest; the text between them is normalized
/// (<c>" " -> "▁"</c>, no dummy prefix) and split into characters (a piece per character, or its UTF-8 bytes as
/// <c>&lt;0xXX&gt;</c> pieces when the character is not in the vocabulary); merges are applied lowest rank first.
/// <c>&lt;bos&gt;</c>/<c>&lt;eos&gt;</c> are added as <c>add_bos_token</c>/<c>add_eos_token</c> say.
/// Unpaired UTF-16 surrogates are read as U+FFFD (as .NET's UTF-8 encoder does); their offsets point at the surrogate.
/// </remarks>
public sealed partial class GemmaTokenizer
{
    private readonly string[] _pieces;
    private readonly Dictionary<string, int> _pieceToId;
    private readonly float[] _scores;
    private readonly SentencePieceTokenType[] _types;
    private readonly bool[] _isSpecial;
    private readonly short[] _byteValue;
    private readonly int[] _charToId = new int[char.MaxValue + 1];
    private readonly Dictionary<int, int> _supplementaryToId = new();
    private readonly int[] _byteToId = new int[256];
    private readonly MergeTable _merges;
    private readonly AddedTokenMatcher? _rawMatcher;
    private readonly AddedTokenMatcher? _normalizedMatcher;
    private readonly int _unkId;
    private readonly bool _byteFallback;
    private readonly bool _fuseUnk;
    private readonly bool _ignoreMerges;
    private readonly char _normalizeFrom;
    private readonly char _normalizeTo;

    private readonly bool[]? _wordBoundaryBefore;
    private readonly ThreadLocal<WordCache> _wordCache;
    private readonly int _wordCacheSize;

    [ThreadStatic]
    private static BpeMerger? t_merger;

    [ThreadStatic]
    private static TokenBuffer? t_buffer;

    private sealed class Parts
    {
        public required string[] Pieces;
        public required float[] Scores;
        public required SentencePieceTokenType[] Types;
        public required bool[] IsSpecial;
        public required MergeTable Merges;
        public required IReadOnlyList<AddedToken> AddedTokens;
        public required IEnumerable<KeyValuePair<string, int>> BpeVocabulary;
        public required int UnkId;
        public required bool ByteFallback;
        public required bool FuseUnk;
        public required bool IgnoreMerges;
        public required char NormalizeFrom;
        public required char NormalizeTo;
        public required bool AddBos;
        public required bool AddEos;
        public int? BosId;
        public int? EosId;
        public int? PadId;
        public int WordCacheSize = WordCache.DefaultMaxEntries;
    }

    private GemmaTokenizer(Parts p)
    {
        var (pieces, scores, types, isSpecial, merges, addedTokens, bpeVocabulary, unkId) =
            (p.Pieces, p.Scores, p.Types, p.IsSpecial, p.Merges, p.AddedTokens, p.BpeVocabulary, p.UnkId);
        var (byteFallback, fuseUnk, ignoreMerges, normalizeFrom, normalizeTo, addBos, addEos) =
            (p.ByteFallback, p.FuseUnk, p.IgnoreMerges, p.NormalizeFrom, p.NormalizeTo, p.AddBos, p.AddEos);
        _pieces = pieces;
        _scores = scores;
        _types = types;
        _isSpecial = isSpecial;
        _merges = merges;
        _unkId = unkId;
        _byteFallback = byteFallback;
        _fuseUnk = fuseUnk;
        _ignoreMerges = ignoreMerges;
        _normalizeFrom = normalizeFrom;
        _normalizeTo = normalizeTo;
        AddBosToken = addBos;
        AddEosToken = addEos;
        AddedTokens = addedTokens;

        _pieceToId = new Dictionary<string, int>(pieces.Length, StringComparer.Ordinal);
        for (var id = 0; id < pieces.Length; id++)
        {
            if (types[id] != SentencePieceTokenType.Unused || pieces[id].Length > 0)
            {
                _pieceToId.TryAdd(pieces[id], id);
            }
        }
        foreach (var t in addedTokens)
        {
            _pieceToId[t.Content] = t.Id; // added tokens win, as in Hugging Face's token_to_id
        }

        _charToId.AsSpan().Fill(-1);
        _byteToId.AsSpan().Fill(-1);
        _byteValue = new short[pieces.Length];
        for (var id = 0; id < pieces.Length; id++)
        {
            var piece = pieces[id];
            _byteValue[id] = -1;
            if (IsBytePiece(piece, out var b))
            {
                _byteValue[id] = b;
                if (_byteToId[b] < 0)
                {
                    _byteToId[b] = id;
                }
            }
        }
        // Single-character pieces of the BPE vocabulary: the starting symbols.
        foreach (var (piece, id) in bpeVocabulary)
        {
            if (piece.Length == 1)
            {
                if (_charToId[piece[0]] < 0)
                {
                    _charToId[piece[0]] = id;
                }
            }
            else if (piece.Length == 2 && char.IsSurrogatePair(piece[0], piece[1]))
            {
                _supplementaryToId.TryAdd(char.ConvertToUtf32(piece[0], piece[1]), id);
            }
        }

        _wordBoundaryBefore = WordBoundaries(pieces, normalizeTo);
        _wordCacheSize = p.WordCacheSize;
        _wordCache = new ThreadLocal<WordCache>(() => new WordCache(_wordCacheSize));

        var raw = addedTokens.Where(t => !t.Normalized).ToList();
        var normalized = addedTokens.Where(t => t.Normalized).ToList();
        _rawMatcher = raw.Count > 0 ? new AddedTokenMatcher(raw, normalizeFrom, normalizeTo, normalizedText: false) : null;
        _normalizedMatcher = normalized.Count > 0
            ? new AddedTokenMatcher(normalized.Select(t => t with { Content = Normalize(t.Content, normalizeFrom, normalizeTo) }).ToList(), normalizeFrom, normalizeTo, normalizedText: true)
            : null;

        BosId = ValidId(p.BosId) ?? TokenToId("<bos>") ?? -1;
        EosId = ValidId(p.EosId) ?? TokenToId("<eos>") ?? -1;
        PadId = ValidId(p.PadId) ?? TokenToId("<pad>") ?? -1;
        UnkId = unkId;
        if (addBos && BosId < 0)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, "the vocabulary has no <bos> token but add_bos_token is true");
        }
        if (addEos && EosId < 0)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, "the vocabulary has no <eos> token but add_eos_token is true");
        }
    }

    /// <summary>
    /// For each character c: whether a ▁ that follows c starts an independent BPE word, i.e. no piece contains "c▁"
    /// (c not ▁) and c is a one-character piece of its own (not byte fallback, not a surrogate). Null when splitting
    /// is off (no ▁ normalizer or ▁ not a piece).
    /// </summary>
    private bool[]? WordBoundaries(string[] pieces, char space)
    {
        if (space == '\0' || _charToId[space] < 0)
        {
            return null;
        }
        var safe = new bool[char.MaxValue + 1];
        for (var c = 0; c <= char.MaxValue; c++)
        {
            safe[c] = _charToId[c] >= 0 && !char.IsSurrogate((char)c) && c != space;
        }
        foreach (var piece in pieces)
        {
            for (var i = 1; i < piece.Length; i++)
            {
                if (piece[i] == space)
                {
                    safe[piece[i - 1]] = false;
                }
            }
        }
        return safe;
    }

    private int? ValidId(int? id) => id is int i && (uint)i < (uint)_pieces.Length ? i : null;

    private static string Normalize(string s, char from, char to) => from == '\0' ? s : s.Replace(from, to);

    private static bool IsBytePiece(string p, out short value)
    {
        value = -1;
        if (p.Length != 6 || !p.StartsWith("<0x", StringComparison.Ordinal) || p[5] != '>')
        {
            return false;
        }
        var hi = HexValue(p[3]);
        var lo = HexValue(p[4]);
        if (hi < 0 || lo < 0)
        {
            return false;
        }
        value = (short)((hi << 4) | lo);
        return true;
    }

    private static int HexValue(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'A' and <= 'F' => c - 'A' + 10,
        >= 'a' and <= 'f' => c - 'a' + 10,
        _ => -1,
    };

    // ---------------------------------------------------------------- properties

    /// <summary>Number of token ids (0 .. VocabularySize-1); for Gemma 3 / EmbeddingGemma 262,144.</summary>
    public int VocabularySize => _pieces.Length;

    /// <summary>The id of <c>&lt;bos&gt;</c> (2 for Gemma), or -1 when the vocabulary has none.</summary>
    public int BosId { get; }

    /// <summary>The id of <c>&lt;eos&gt;</c> (1 for Gemma), or -1 when the vocabulary has none.</summary>
    public int EosId { get; }

    /// <summary>The id of <c>&lt;pad&gt;</c> (0 for Gemma), or -1 when the vocabulary has none.</summary>
    public int PadId { get; }

    /// <summary>The id of the unknown token (3 for Gemma), or -1 when there is none.</summary>
    public int UnkId { get; }

    /// <summary>Whether <c>&lt;bos&gt;</c> is put in front of every sequence (when special tokens are requested).</summary>
    public bool AddBosToken { get; }

    /// <summary>Whether <c>&lt;eos&gt;</c> is put at the end of every sequence (when special tokens are requested).</summary>
    public bool AddEosToken { get; }

    /// <summary>Tokens matched literally in the text before BPE (ids below <see cref="VocabularySize"/> only).</summary>
    public IReadOnlyList<AddedToken> AddedTokens { get; }

    /// <summary>Pieces by id (GGUF <c>tokenizer.ggml.tokens</c>).</summary>
    public IReadOnlyList<string> Tokens => _pieces;

    /// <summary>
    /// Scores by id (GGUF <c>tokenizer.ggml.scores</c>). Loaded from tokenizer.json: minus the rank of the first merge
    /// that creates the piece, 0 for pieces no merge creates; so score-ordered merging reproduces the merge ranks.
    /// </summary>
    public IReadOnlyList<float> Scores => _scores;

    /// <summary>Types by id (GGUF <c>tokenizer.ggml.token_type</c>).</summary>
    public IReadOnlyList<SentencePieceTokenType> TokenTypes => _types;

    /// <summary>The piece of an id, or null when the id is outside the vocabulary.</summary>
    public string? IdToToken(int id) => (uint)id < (uint)_pieces.Length ? _pieces[id] : null;

    /// <summary>The id of a piece (or added token), or null when there is none.</summary>
    public int? TokenToId(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        return _pieceToId.TryGetValue(token, out var id) ? id : null;
    }

    /// <summary>Whether an id is a special token (skipped by <c>Decode(..., skipSpecialTokens: true)</c>).</summary>
    public bool IsSpecialToken(int id) => (uint)id < (uint)_isSpecial.Length && _isSpecial[id];

    /// <summary>The vocabulary in GGUF form (tokens, scores, types, special ids, flags).</summary>
    public SentencePieceVocabulary ToSentencePieceVocabulary() =>
        new(_pieces, _scores, _types, BosId, EosId, UnkId, PadId, AddBosToken, AddEosToken, AddSpacePrefix: false);
}
