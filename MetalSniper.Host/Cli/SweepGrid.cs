using System.Globalization;
using System.Text.Json;

namespace MetalSniper.Host.Cli;

/// <summary>
/// A parameter grid for <c>sweep</c>: the points to run, each a set of configuration overrides (<c>KEY=VALUE</c>, keys are
/// configuration paths such as <c>Strategies:Metals:StopAtr</c>). The file is JSON with either <c>parameters</c> (key → list of
/// values; the Cartesian product, the first key varying slowest) or <c>points</c> (a list of key → value objects), and
/// optionally <c>fixed</c> (key → value, applied to every point) and <c>description</c>. Values are JSON numbers, strings or
/// booleans, passed to the configuration as their invariant text.
/// </summary>
/// <param name="Path">The grid file (full path).</param>
/// <param name="Description">The file's <c>description</c>, or empty.</param>
/// <param name="Keys">The keys that vary between points, in file order (the columns of the ranked table).</param>
/// <param name="Points">Every point: the varying keys and the fixed ones, in file order.</param>
public sealed record SweepGrid(string Path, string Description, IReadOnlyList<string> Keys, IReadOnlyList<IReadOnlyList<KeyValuePair<string, string>>> Points)
{
    /// <summary>The most points a grid may have (a typo in a list should not start ten thousand replays).</summary>
    public const int MaxPoints = 10_000;

    /// <summary>Reads and checks a grid file.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="SweepGridException">The file is not a well-formed grid (the message names the problem, not the file).</exception>
    public static SweepGrid Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var full = System.IO.Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            throw new FileNotFoundException($"grid file '{path}' not found", full);
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(full), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new SweepGridException($"not valid JSON: {e.Message}");
        }

        using (document)
        {
            return Parse(full, document.RootElement);
        }
    }

    private static SweepGrid Parse(string path, JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new SweepGridException($"the top level must be an object with \"parameters\" or \"points\", was {Kind(root)}");
        }

        JsonElement? parameters = null, points = null, fixedValues = null;
        var description = "";
        foreach (var p in root.EnumerateObject())
        {
            switch (p.Name)
            {
                case "parameters": parameters = p.Value; break;
                case "points": points = p.Value; break;
                case "fixed": fixedValues = p.Value; break;
                case "description":
                    description = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : throw new SweepGridException($"\"description\" must be a string, was {Kind(p.Value)}");
                    break;
                default:
                    throw new SweepGridException($"unknown member \"{p.Name}\" (known: description, parameters, points, fixed)");
            }
        }

        if (parameters is null == points is null)
        {
            throw new SweepGridException("give exactly one of \"parameters\" (key → list of values, Cartesian product) or \"points\" (list of key → value objects)");
        }

        var fixedPairs = fixedValues is { } f ? Pairs(f, "fixed") : [];
        List<List<KeyValuePair<string, string>>> varying;
        List<string> keys;
        if (parameters is { } grid)
        {
            (keys, varying) = Cartesian(grid);
        }
        else
        {
            (keys, varying) = Explicit(points!.Value);
        }

        foreach (var key in fixedPairs.Select(p => p.Key).Where(k => keys.Contains(k, StringComparer.OrdinalIgnoreCase)))
        {
            throw new SweepGridException($"key '{key}' is both fixed and varied");
        }

        return new SweepGrid(path, description, keys, varying.Select(v => (IReadOnlyList<KeyValuePair<string, string>>)[.. v, .. fixedPairs]).ToList());
    }

    private static (List<string> Keys, List<List<KeyValuePair<string, string>>> Points) Cartesian(JsonElement grid)
    {
        if (grid.ValueKind != JsonValueKind.Object)
        {
            throw new SweepGridException($"\"parameters\" must be an object of key → list of values, was {Kind(grid)}");
        }

        var axes = new List<(string Key, List<string> Values)>();
        foreach (var p in grid.EnumerateObject())
        {
            var key = CheckKey(p.Name, "parameters", axes.Select(a => a.Key));
            if (p.Value.ValueKind != JsonValueKind.Array)
            {
                throw new SweepGridException($"parameters.{key} must be a list of values, was {Kind(p.Value)}");
            }

            var values = p.Value.EnumerateArray().Select((v, i) => Scalar(v, $"parameters.{key}[{i}]")).ToList();
            if (values.Count == 0)
            {
                throw new SweepGridException($"parameters.{key} is an empty list (the grid would have no point)");
            }

            if (values.Distinct(StringComparer.Ordinal).Count() != values.Count)
            {
                throw new SweepGridException($"parameters.{key} lists a value twice ([{string.Join(", ", values)}])");
            }

            axes.Add((key, values));
        }

        if (axes.Count == 0)
        {
            throw new SweepGridException("\"parameters\" is empty (the grid would have no point)");
        }

        var count = axes.Aggregate(1L, (n, a) => n * a.Values.Count);
        if (count > MaxPoints)
        {
            throw new SweepGridException(string.Create(CultureInfo.InvariantCulture, $"the grid has {count:N0} points, more than {MaxPoints:N0}"));
        }

        var points = new List<List<KeyValuePair<string, string>>> { new() };
        foreach (var (key, values) in axes)
        {
            points = [.. points.SelectMany(p => values.Select(v => new List<KeyValuePair<string, string>>(p) { new(key, v) }))];
        }

        return ([.. axes.Select(a => a.Key)], points);
    }

    private static (List<string> Keys, List<List<KeyValuePair<string, string>>> Points) Explicit(JsonElement list)
    {
        if (list.ValueKind != JsonValueKind.Array)
        {
            throw new SweepGridException($"\"points\" must be a list of objects (key → value), was {Kind(list)}");
        }

        var points = list.EnumerateArray().Select((p, i) => Pairs(p, $"points[{i}]")).ToList();
        if (points.Count == 0)
        {
            throw new SweepGridException("\"points\" is an empty list");
        }

        if (points.Count > MaxPoints)
        {
            throw new SweepGridException(string.Create(CultureInfo.InvariantCulture, $"the grid has {points.Count:N0} points, more than {MaxPoints:N0}"));
        }

        var keys = points.SelectMany(p => p.Select(kv => kv.Key)).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < points.Count; i++)
        {
            var identity = string.Join("\n", points[i].OrderBy(kv => kv.Key, StringComparer.OrdinalIgnoreCase).Select(kv => kv.Key.ToUpperInvariant() + "=" + kv.Value));
            if (!seen.Add(identity))
            {
                throw new SweepGridException($"points[{i}] repeats an earlier point");
            }
        }

        return (keys, points);
    }

    private static List<KeyValuePair<string, string>> Pairs(JsonElement obj, string where)
    {
        if (obj.ValueKind != JsonValueKind.Object)
        {
            throw new SweepGridException($"{where} must be an object of key → value, was {Kind(obj)}");
        }

        var pairs = new List<KeyValuePair<string, string>>();
        foreach (var p in obj.EnumerateObject())
        {
            var key = CheckKey(p.Name, where, pairs.Select(kv => kv.Key));
            pairs.Add(new(key, Scalar(p.Value, $"{where}.{key}")));
        }

        if (pairs.Count == 0 && where != "fixed")
        {
            throw new SweepGridException($"{where} is empty");
        }

        return pairs;
    }

    private static string CheckKey(string key, string where, IEnumerable<string> earlier)
    {
        if (string.IsNullOrWhiteSpace(key) || key != key.Trim() || key.Contains('=', StringComparison.Ordinal) || key.StartsWith(':') || key.EndsWith(':') || key.Contains("::", StringComparison.Ordinal))
        {
            throw new SweepGridException($"{where}: '{key}' is not a configuration key (a path such as Strategies:Metals:StopAtr)");
        }

        if (earlier.Contains(key, StringComparer.OrdinalIgnoreCase))
        {
            throw new SweepGridException($"{where}: key '{key}' appears twice (configuration keys ignore case)");
        }

        return key;
    }

    private static string Scalar(JsonElement value, string where) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString()!,
        JsonValueKind.Number => value.GetRawText(),
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        _ => throw new SweepGridException($"{where} must be a number, string or boolean, was {Kind(value)}"),
    };

    private static string Kind(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "a list",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.Null => "null",
        _ => "a boolean",
    };
}

/// <summary>A grid file that is not well formed; the message names the problem (the caller names the file).</summary>
public sealed class SweepGridException(string message) : Exception(message);
