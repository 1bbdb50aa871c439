export default { fetch: () => new Response('todo') };
