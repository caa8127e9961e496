using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace MetalSniper.Judges.Serving;

/// <summary>
/// A managed evaluator of an XGBoost <c>binary:logistic</c> tree ensemble, read from XGBoost's JSON model (the bytes
/// <see cref="XgBoost.XgbBooster.Save"/> returns; schema: dmlc/xgboost <c>doc/model.schema</c> of 1.7). The trees are
/// flattened breadth-first into struct-of-arrays (first child — the right child is its neighbour —, split feature,
/// split threshold, default direction, leaf value), so a prediction walks arrays and allocates nothing; four trees are
/// walked side by side. The arithmetic follows XGBoost's CPU predictor: a single-precision
/// margin that starts at logit(<c>base_score</c>) and adds each tree's leaf in tree order; a feature goes left when
/// <c>x &lt; split_condition</c>, and a missing one (<see cref="float.NaN"/>) takes the node's default direction; the
/// probability is 1 / (1 + e^−margin). Immutable, so safe to share between threads.
/// </summary>
public sealed class TreeEnsemble
{
    private readonly int[] _roots;
    private readonly int[] _depth;
    private readonly int[] _first;
    private readonly int[] _feature;
    private readonly float[] _threshold;
    private readonly bool[] _defaultLeft;
    private readonly float[] _leaf;

    private TreeEnsemble(int featureCount, float baseScore, string version, int[] roots, int[] depth, int[] first, int[] feature, float[] threshold, bool[] defaultLeft, float[] leaf)
    {
        FeatureCount = featureCount;
        BaseScore = baseScore;
        BaseMargin = -MathF.Log((1f / baseScore) - 1f);
        XgboostVersion = version;
        _roots = roots;
        _depth = depth;
        _first = first;
        _feature = feature;
        _threshold = threshold;
        _defaultLeft = defaultLeft;
        _leaf = leaf;
    }

    /// <summary>Features per row the model was trained on (<c>learner_model_param.num_feature</c>).</summary>
    public int FeatureCount { get; }

    /// <summary>Trees in the ensemble (one per boosting round for <c>binary:logistic</c>).</summary>
    public int TreeCount => _roots.Length;

    /// <summary>Nodes in all trees together (split nodes and leaves reachable from the roots; nodes XGBoost pruned are left out).</summary>
    public int NodeCount => _first.Length;

    /// <summary>XGBoost's <c>base_score</c>: the prior probability (0 &lt; p &lt; 1) every prediction starts from.</summary>
    public float BaseScore { get; }

    /// <summary>The margin (log-odds) every prediction starts from: logit(<see cref="BaseScore"/>), in single precision as XGBoost computes it.</summary>
    public float BaseMargin { get; }

    /// <summary>The XGBoost version that wrote the model (the JSON's <c>version</c>, e.g. "1.7.4").</summary>
    public string XgboostVersion { get; }

    /// <summary>The objective (only <c>binary:logistic</c> is served).</summary>
    public string Objective => "binary:logistic";

    /// <summary>Reads an XGBoost JSON model.</summary>
    /// <param name="json">UTF-8 JSON as XGBoost's <c>XGBoosterSaveModelToBuffer</c> with <c>{"format": "json"}</c> writes it.</param>
    /// <exception cref="ModelFormatException">
    /// The bytes are not JSON, a field of the schema is missing or malformed, the tree structure is inconsistent, or the
    /// model is one this evaluator does not serve (an objective other than <c>binary:logistic</c>, a booster other than
    /// <c>gbtree</c>, several classes or targets, categorical splits, vector leaves).
    /// </exception>
    public static TreeEnsemble FromXgboostJson(ReadOnlySpan<byte> json)
    {
        JsonDocument document;
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 64 });
            document = JsonDocument.ParseValue(ref reader);
        }
        catch (JsonException e)
        {
            throw new ModelFormatException($"the XGBoost model is not JSON: {e.Message}", e);
        }

        using (document)
        {
            try
            {
                return Parse(document.RootElement);
            }
            catch (Exception e) when (e is InvalidOperationException or FormatException or KeyNotFoundException or OverflowException)
            {
                throw new ModelFormatException($"the XGBoost model does not follow the JSON schema: {e.Message}", e);
            }
        }
    }

    /// <summary>The margin (log-odds) of one row: logit(base_score) + the sum of the trees' leaves.</summary>
    /// <param name="features">One row of exactly <see cref="FeatureCount"/> features, in training order; NaN marks a missing value.</param>
    /// <exception cref="ArgumentException">The row does not have <see cref="FeatureCount"/> features.</exception>
    public float PredictMargin(ReadOnlySpan<float> features)
    {
        if (features.Length != FeatureCount)
        {
            throw new ArgumentException($"the model takes {FeatureCount} features per row, the row has {features.Length}", nameof(features));
        }

        // Every index below was validated when the model was read (children inside the tree, split features below
        // FeatureCount, and the row is FeatureCount wide), so the walk reads the arrays without bounds checks. A leaf
        // steps to itself (see Step), so each tree takes exactly its depth in steps, without a branch, and four trees
        // are walked side by side to overlap their memory reads; their leaves are then added in tree order.
        ref var first = ref MemoryMarshal.GetArrayDataReference(_first);
        ref var feature = ref MemoryMarshal.GetArrayDataReference(_feature);
        ref var threshold = ref MemoryMarshal.GetArrayDataReference(_threshold);
        ref var defaultLeft = ref MemoryMarshal.GetArrayDataReference(_defaultLeft);
        ref var leaf = ref MemoryMarshal.GetArrayDataReference(_leaf);
        ref var x = ref MemoryMarshal.GetReference(features);
        var roots = _roots;
        var depth = _depth;
        var margin = BaseMargin;
        var t = 0;
        for (; t + 4 <= roots.Length; t += 4)
        {
            var (a, b, c, d) = (roots[t], roots[t + 1], roots[t + 2], roots[t + 3]);
            var steps = Math.Max(Math.Max(depth[t], depth[t + 1]), Math.Max(depth[t + 2], depth[t + 3]));
            for (var s = 0; s < steps; s++)
            {
                a = Step(a, ref first, ref feature, ref threshold, ref defaultLeft, ref x);
                b = Step(b, ref first, ref feature, ref threshold, ref defaultLeft, ref x);
                c = Step(c, ref first, ref feature, ref threshold, ref defaultLeft, ref x);
                d = Step(d, ref first, ref feature, ref threshold, ref defaultLeft, ref x);
            }

            margin += Unsafe.Add(ref leaf, a);
            margin += Unsafe.Add(ref leaf, b);
            margin += Unsafe.Add(ref leaf, c);
            margin += Unsafe.Add(ref leaf, d);
        }

        for (; t < roots.Length; t++)
        {
            var n = roots[t];
            for (var s = 0; s < depth[t]; s++)
            {
                n = Step(n, ref first, ref feature, ref threshold, ref defaultLeft, ref x);
            }

            margin += Unsafe.Add(ref leaf, n);
        }

        return margin;
    }

    /// <summary>The probability of the positive class for one row: 1 / (1 + e^−<see cref="PredictMargin"/>).</summary>
    /// <param name="features">One row of exactly <see cref="FeatureCount"/> features; NaN marks a missing value.</param>
    /// <exception cref="ArgumentException">The row does not have <see cref="FeatureCount"/> features.</exception>
    public float Predict(ReadOnlySpan<float> features) => Sigmoid(PredictMargin(features));

    /// <summary>The probability for each row of a row-major block.</summary>
    /// <param name="rows">Rows of <see cref="FeatureCount"/> features, one after the other.</param>
    /// <param name="probabilities">Receives one probability per row; exactly as long as the number of rows.</param>
    /// <exception cref="ArgumentException">The block is not whole rows, or <paramref name="probabilities"/> has the wrong length.</exception>
    public void PredictMany(ReadOnlySpan<float> rows, Span<float> probabilities)
    {
        if (rows.Length % FeatureCount != 0 || rows.Length / FeatureCount != probabilities.Length)
        {
            throw new ArgumentException($"{rows.Length} values are not {probabilities.Length} rows of {FeatureCount} features", nameof(rows));
        }

        for (var i = 0; i < probabilities.Length; i++)
        {
            probabilities[i] = Predict(rows.Slice(i * FeatureCount, FeatureCount));
        }
    }

    /// <summary>
    /// One step down from node <paramref name="n"/>: left (the first child) when <c>x &lt; threshold</c>, or when x is
    /// missing and the default is left; right (first child + 1) otherwise. Written as !(x ≥ threshold) so that a leaf —
    /// threshold NaN, default left, first child itself — always "goes left" to itself.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Step(int n, ref int first, ref int feature, ref float threshold, ref bool defaultLeft, ref float x)
    {
        var v = Unsafe.Add(ref x, Unsafe.Add(ref feature, n));
        var goLeft = !(v >= Unsafe.Add(ref threshold, n)) & !(float.IsNaN(v) & !Unsafe.Add(ref defaultLeft, n));
        return Unsafe.Add(ref first, n) + 1 - Unsafe.BitCast<bool, byte>(goLeft);
    }

    /// <summary>XGBoost's logistic transform in single precision.</summary>
    private static float Sigmoid(float margin) => 1f / (1f + MathF.Exp(-margin));

    private static TreeEnsemble Parse(JsonElement root)
    {
        var version = Required(root, "version");
        var v = version.EnumerateArray().Select(e => e.GetInt32()).ToArray();
        if (v.Length != 3 || v[0] is not (1 or 2))
        {
            throw new ModelFormatException($"the model was written by XGBoost {string.Join('.', v)}; the evaluator reads the JSON schema of XGBoost 1.x/2.x");
        }

        var learner = Required(root, "learner");
        var objective = Required(Required(learner, "objective"), "name").GetString();
        if (objective != "binary:logistic")
        {
            throw new ModelFormatException($"the model's objective is '{objective}'; only binary:logistic is served (a judge's output is a probability)");
        }

        var param = Required(learner, "learner_model_param");
        var baseScore = ParseFloatString(Required(param, "base_score"), "learner_model_param.base_score");
        if (!(baseScore > 0f && baseScore < 1f))
        {
            throw new ModelFormatException($"base_score {baseScore} is not a probability strictly between 0 and 1, as binary:logistic needs");
        }

        var featureCount = ParseIntString(Required(param, "num_feature"), "learner_model_param.num_feature");
        if (featureCount <= 0)
        {
            throw new ModelFormatException($"learner_model_param.num_feature is {featureCount}");
        }

        if (param.TryGetProperty("num_class", out var numClass) && ParseIntString(numClass, "num_class") > 1)
        {
            throw new ModelFormatException("the model has several classes; only a single binary:logistic output is served");
        }

        if (param.TryGetProperty("num_target", out var numTarget) && ParseIntString(numTarget, "num_target") > 1)
        {
            throw new ModelFormatException("the model has several targets; only a single binary:logistic output is served");
        }

        var booster = Required(learner, "gradient_booster");
        var boosterName = Required(booster, "name").GetString();
        if (boosterName != "gbtree")
        {
            throw new ModelFormatException($"the booster is '{boosterName}'; only gbtree is served (dart's dropout weights and gblinear are not)");
        }

        var model = Required(booster, "model");
        var trees = Required(model, "trees");
        var treeInfo = Required(model, "tree_info").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        var treeCount = trees.GetArrayLength();
        if (treeInfo.Length != treeCount || treeInfo.Any(g => g != 0))
        {
            throw new ModelFormatException($"tree_info has {treeInfo.Length} entries for {treeCount} trees, or names an output group other than 0");
        }

        var roots = new int[treeCount];
        var depths = new int[treeCount];
        var first = new List<int>();
        var feature = new List<int>();
        var threshold = new List<float>();
        var defaultLeft = new List<bool>();
        var leaf = new List<float>();
        var t = 0;
        foreach (var tree in trees.EnumerateArray())
        {
            var offset = first.Count;
            roots[t] = offset;
            var l = Ints(tree, "left_children");
            var r = Ints(tree, "right_children");
            var s = Ints(tree, "split_indices");
            var c = Required(tree, "split_conditions").EnumerateArray().Select(e => e.GetSingle()).ToArray();
            var d = Required(tree, "default_left").EnumerateArray().Select(e => e.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => e.GetInt32() != 0,
            }).ToArray();
            var n = l.Length;
            if (n == 0 || r.Length != n || s.Length != n || c.Length != n || d.Length != n)
            {
                throw new ModelFormatException($"tree {t}: left_children, right_children, split_indices, split_conditions and default_left differ in length ({n}, {r.Length}, {s.Length}, {c.Length}, {d.Length})");
            }

            if (tree.TryGetProperty("split_type", out var splitType) && splitType.EnumerateArray().Any(e => e.GetInt32() != 0))
            {
                throw new ModelFormatException($"tree {t} has categorical splits; only numerical splits are served");
            }

            if (tree.TryGetProperty("tree_param", out var treeParam) && treeParam.TryGetProperty("size_leaf_vector", out var leafVector) && ParseIntString(leafVector, "size_leaf_vector") > 1)
            {
                throw new ModelFormatException($"tree {t} has vector leaves; only scalar leaves are served");
            }

            // Validate every node, then lay the reachable ones out breadth-first so that siblings are adjacent: the right
            // child is always the left child + 1, and one array (the first child) describes the structure.
            for (var i = 0; i < n; i++)
            {
                if (l[i] == -1)
                {
                    if (!float.IsFinite(c[i]))
                    {
                        throw new ModelFormatException($"tree {t} leaf {i} has the value {c[i]}");
                    }
                }
                else if (l[i] <= i || l[i] >= n || r[i] <= i || r[i] >= n || l[i] == r[i])
                {
                    // XGBoost appends children after their parent, so child > parent holds and a walk always ends.
                    throw new ModelFormatException($"tree {t} node {i} has children {l[i]} and {r[i]}, not two distinct nodes in ({i}, {n})");
                }
            }

            var seen = new bool[n];
            var queue = new Queue<(int Node, int Depth)>([(0, 0)]);
            seen[0] = true;
            var next = offset + 1;
            while (queue.TryDequeue(out var item))
            {
                var (i, level) = item;
                if (l[i] == -1)
                {
                    // A leaf steps to itself: first child = itself, threshold NaN (never "x ≥ threshold"), default left.
                    first.Add(first.Count);
                    feature.Add(0);
                    threshold.Add(float.NaN);
                    defaultLeft.Add(true);
                    leaf.Add(c[i]);
                    depths[t] = Math.Max(depths[t], level);
                    continue;
                }

                if (s[i] < 0 || s[i] >= featureCount)
                {
                    throw new ModelFormatException($"tree {t} node {i} splits on feature {s[i]}; the model has {featureCount}");
                }

                if (float.IsNaN(c[i]))
                {
                    throw new ModelFormatException($"tree {t} node {i} splits at NaN");
                }

                if (seen[l[i]] || seen[r[i]])
                {
                    throw new ModelFormatException($"tree {t} node {i} has a child that another node has too");
                }

                seen[l[i]] = seen[r[i]] = true;
                first.Add(next);
                feature.Add(s[i]);
                threshold.Add(c[i]);
                defaultLeft.Add(d[i]);
                leaf.Add(0f);
                next += 2;
                queue.Enqueue((l[i], level + 1));
                queue.Enqueue((r[i], level + 1));
            }

            t++;
        }

        return new TreeEnsemble(featureCount, baseScore, string.Join('.', v), roots, depths, [.. first], [.. feature], [.. threshold], [.. defaultLeft], [.. leaf]);
    }

    private static JsonElement Required(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) ? v : throw new ModelFormatException($"the XGBoost model has no '{name}' where the schema puts it");

    private static int[] Ints(JsonElement tree, string name) => Required(tree, name).EnumerateArray().Select(e => e.GetInt32()).ToArray();

    /// <summary>XGBoost writes its parameters as strings ("5E-1"); XGBoost 3 writes base_score as a one-element list ("[5E-1]").</summary>
    private static float ParseFloatString(JsonElement e, string what)
    {
        var s = e.ValueKind == JsonValueKind.String ? e.GetString()! : e.GetRawText();
        s = s.Trim().TrimStart('[').TrimEnd(']');
        return float.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var f) ? f : throw new ModelFormatException($"{what} is '{s}', not a number");
    }

    private static int ParseIntString(JsonElement e, string what)
    {
        var s = e.ValueKind == JsonValueKind.String ? e.GetString()! : e.GetRawText();
        return int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var i) ? i : throw new ModelFormatException($"{what} is '{s}', not an integer");
    }
}

/// <summary>A model's bytes are not an XGBoost model the managed evaluator can serve; the message says which field or rule.</summary>
public sealed class ModelFormatException : Exception
{
    /// <summary>A refusal with its reason.</summary>
    public ModelFormatException(string message)
        : base(message)
    {
    }

    /// <summary>A refusal caused by a parsing error.</summary>
    public ModelFormatException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
