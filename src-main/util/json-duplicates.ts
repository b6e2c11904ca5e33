// JSON.parse keeps the last of two members with the same name, silently; other readers keep the first or
// refuse. A document we act on must mean one thing, so duplicates are found and refused. This scans text
// that JSON.parse already accepted: it only needs to tell member names from values, at any depth.

export interface DuplicateMember {
  name: string;
  /** Where the object holding it is: '' for the top level, else e.g. `Tags[0]` or `a.b`. */
  where: string;
}

interface Frame {
  object: boolean;
  keys: Set<string>;
  /** In an object: the next string is a member name. */
  expectName: boolean;
  /** In an object: the member being read; in an array: the element's index. */
  at: string | number;
}

function whereOf(stack: readonly Frame[]): string {
  // Every frame but the innermost names the step into the next one.
  return stack
    .slice(0, -1)
    .map((f) => (f.object ? `.${String(f.at)}` : `[${String(f.at)}]`))
    .join('')
    .replace(/^\./, '');
}

/** The first member name that appears twice in one object of `text` (valid JSON), or undefined. */
export function findDuplicateMember(text: string): DuplicateMember | undefined {
  const stack: Frame[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const top = stack.at(-1);
      if (top?.object && top.expectName) {
        const name = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.keys.has(name)) return { name, where: whereOf(stack) };
        top.keys.add(name);
        top.at = name;
        top.expectName = false;
      }
      i = j;
    } else if (c === '{' || c === '[') {
      stack.push({ object: c === '{', keys: new Set(), expectName: c === '{', at: c === '{' ? '' : 0 });
    } else if (c === '}' || c === ']') {
      stack.pop();
    } else if (c === ',') {
      const top = stack.at(-1);
      if (top?.object) top.expectName = true;
      else if (top) top.at = (top.at as number) + 1;
    }
  }
  return undefined;
}
