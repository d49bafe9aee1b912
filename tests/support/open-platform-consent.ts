/**
 * A user's browser on the open platform sandbox's consent page, over plain
 * HTTP: opens the authorization URL, reads the form (its hidden fields are
 * the authorization request) and submits it as the chosen sandbox user,
 * approving or denying. Answers where the platform sends the browser next
 * (the redirect URI with code and state, or with an error).
 */
export async function consent(authorizeUrl: string, options: { user?: string; approve?: boolean } = {}): Promise<URL> {
  const page = await fetch(authorizeUrl, { redirect: 'manual' });
  if (page.status === 302) return new URL(page.headers.get('location')!);
  const html = await page.text();
  if (page.status !== 200) throw new Error(`the consent page answered ${page.status}: ${html.slice(0, 300)}`);
  const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
  if (!action) throw new Error('no consent form on the page');
  const unescapeHtml = (s: string) =>
    s
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'")
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&amp;/g, '&');
  const form = new URLSearchParams();
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) form.set(m[1]!, unescapeHtml(m[2]!));
  form.set('user', options.user ?? 'alice');
  if (options.approve ?? true) form.set('approve', '1');
  else form.set('deny', '1');
  const answer = await fetch(new URL(action, authorizeUrl), {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: form.toString(),
    redirect: 'manual',
  });
  if (answer.status !== 302) throw new Error(`the consent answered ${answer.status}: ${(await answer.text()).slice(0, 300)}`);
  return new URL(answer.headers.get('location')!);
}
