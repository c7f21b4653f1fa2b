// One view per thread item: builds the item's element (carrying data-item-id and
// data-item-type), applies the stream's updates to it, and renders it again when the
// item is done or replaced.
//
// ctx (from the component): allowImage(src), markdown(text) -> Node, feedback and
// retry (booleans), onFeedback(view, kind), onRetry(view), widgets (widgets-bridge.js),
// onStructuredInput(view, submission).

import { h, icon, iconButton } from './dom.js';
import { StreamedMarkdown } from './markdown.js';

const HIDDEN = new Set(['end_of_turn', 'hidden_context_item', 'sdk_hidden_context']);

function shell(item, kind, ...children) {
  return h(
    'article',
    { class: `tk-item tk-${kind}`, dataset: { itemId: item.id, itemType: item.type } },
    ...children,
  );
}

// --- assistant messages -------------------------------------------------------------------

function applyContentUpdate(content, update) {
  while (content.length <= update.content_index) content.push({ type: 'output_text', text: '', annotations: [] });
  const part = content[update.content_index];
  switch (update.type) {
    case 'assistant_message.content_part.added':
    case 'assistant_message.content_part.done':
      content[update.content_index] = { annotations: [], ...update.content };
      break;
    case 'assistant_message.content_part.text_delta':
      part.text = (part.text || '') + update.delta;
      break;
    case 'assistant_message.content_part.annotation_added': {
      const list = (part.annotations ||= []);
      if (update.annotation_index <= list.length) list.splice(update.annotation_index, 0, update.annotation);
      else list.push(update.annotation);
      break;
    }
    default:
      return false;
  }
  return true;
}

function sourceLabel(source) {
  return source.title || source.label || source.filename || source.url || 'Source';
}

function renderSources(content, ctx) {
  const seen = new Map();
  for (const part of content) {
    for (const annotation of part.annotations || []) {
      const source = annotation.source || {};
      const key = source.url || source.filename || source.id || sourceLabel(source);
      if (!seen.has(key)) seen.set(key, source);
    }
  }
  if (!seen.size) return null;
  const items = [...seen.values()].map((source) => {
    const label = sourceLabel(source);
    let body;
    if (source.type === 'url' && source.url && ctx.isLinkAllowed(source.url)) {
      body = h('a', { href: source.url, target: '_blank', rel: 'noopener noreferrer' }, label);
    } else {
      body = h('span', {}, label);
    }
    const extra = source.attribution || source.description;
    return h('li', { class: 'tk-source' }, body, extra ? h('span', { class: 'tk-muted' }, ` \u2014 ${extra}`) : null);
  });
  return h('details', { class: 'tk-sources' }, h('summary', {}, `Sources (${items.length})`), h('ol', {}, items));
}

class AssistantView {
  constructor(item, ctx, streaming) {
    this.ctx = ctx;
    this.parts = [];
    this.body = h('div', { class: 'tk-md-parts' });
    this.sources = h('div', { class: 'tk-sources-slot' });
    this.actions = h('div', { class: 'tk-actions' });
    this.el = shell(item, 'assistant', this.body, this.sources, this.actions);
    this.streaming = streaming;
    this.render(item);
    if (!streaming) this.finish();
  }

  render(item) {
    this.item = item;
    const content = item.content || [];
    while (this.parts.length < content.length) {
      const el = h('div', { class: 'tk-md' });
      this.body.append(el);
      this.parts.push(new StreamedMarkdown(el, this.ctx.allowImage));
    }
    content.forEach((part, i) => this.parts[i].set(part.text || ''));
    this.sources.replaceChildren(renderSources(content, this.ctx) || '');
    this.el.classList.toggle('tk-streaming', this.streaming);
  }

  applyUpdate(update) {
    const content = (this.item.content ||= []);
    if (applyContentUpdate(content, update)) this.render(this.item);
  }

  update(item, done) {
    if (done) this.streaming = false;
    this.render(item);
    if (done) this.finish();
  }

  finish() {
    this.streaming = false;
    this.el.classList.remove('tk-streaming');
    for (const part of this.parts) part.flush();
    this.renderActions();
  }

  renderActions() {
    const { ctx } = this;
    const buttons = [];
    if (ctx.feedback) {
      for (const [kind, name, label] of [['positive', 'up', 'Good response'], ['negative', 'down', 'Bad response']]) {
        const button = iconButton(name, label, () => ctx.onFeedback(this, kind), {
          'aria-pressed': this.feedback === kind ? 'true' : 'false',
          dataset: { feedback: kind },
        });
        buttons.push(button);
      }
    }
    if (ctx.retry) buttons.push(iconButton('retry', 'Retry', () => ctx.onRetry(this)));
    this.actions.replaceChildren(...buttons);
    this.actions.hidden = buttons.length === 0;
  }

  setFeedback(kind) {
    this.feedback = kind;
    for (const button of this.actions.querySelectorAll('[data-feedback]')) {
      button.setAttribute('aria-pressed', button.dataset.feedback === kind ? 'true' : 'false');
    }
  }
}

// --- user messages ------------------------------------------------------------------------

function renderAttachment(attachment, ctx) {
  const preview = attachment.preview_url;
  if (attachment.type === 'image' && preview && ctx.allowImage(preview)) {
    return h('figure', { class: 'tk-attachment tk-attachment-image' },
      h('img', { src: preview, alt: attachment.name || 'image', loading: 'lazy', referrerpolicy: 'no-referrer' }));
  }
  return h('span', { class: 'tk-attachment tk-attachment-file' }, icon('file'), h('span', {}, attachment.name || 'file'));
}

class UserView {
  constructor(item, ctx) {
    this.ctx = ctx;
    this.el = shell(item, 'user');
    this.update(item);
  }

  update(item) {
    this.item = item;
    const { ctx } = this;
    const parts = (item.content || []).map((part) =>
      part.type === 'input_tag' ? h('span', { class: 'tk-tag' }, `@${part.text}`) : part.text ?? '',
    );
    this.el.replaceChildren(
      item.quoted_text ? h('blockquote', { class: 'tk-quote' }, item.quoted_text) : '',
      item.attachments?.length ? h('div', { class: 'tk-attachments' }, item.attachments.map((a) => renderAttachment(a, ctx))) : '',
      h('div', { class: 'tk-bubble' }, parts),
    );
  }

  applyUpdate() {}
  finish() {}
}

// --- workflows and tasks ------------------------------------------------------------------

function statusBadge(task) {
  if (task.status_indicator === 'loading') return h('span', { class: 'tk-spinner', role: 'img', 'aria-label': 'In progress' });
  if (task.status_indicator === 'complete') return h('span', { class: 'tk-done', role: 'img', 'aria-label': 'Done' }, icon('check'));
  return null;
}

function taskTitle(task) {
  if (task.title) return task.title;
  switch (task.type) {
    case 'web_search': return task.title_query ? `Searched for \u201c${task.title_query}\u201d` : 'Searched the web';
    case 'thought': return 'Thought';
    case 'file': return 'Read files';
    case 'image': return 'Image';
    default: return 'Task';
  }
}

function taskBody(task, ctx) {
  const body = [];
  if ((task.type === 'custom' || task.type === 'thought') && task.content) {
    body.push(h('div', { class: 'tk-md' }, ctx.markdown(task.content)));
  }
  if (task.type === 'web_search' && task.queries?.length) {
    body.push(h('ul', { class: 'tk-queries' }, task.queries.map((q) => h('li', {}, q))));
  }
  if (task.sources?.length) {
    body.push(h('ul', { class: 'tk-task-sources' }, task.sources.map((source) =>
      h('li', {}, source.url && ctx.isLinkAllowed(source.url)
        ? h('a', { href: source.url, target: '_blank', rel: 'noopener noreferrer' }, sourceLabel(source))
        : sourceLabel(source)))));
  }
  return body;
}

function renderTask(task, ctx) {
  return h('li', { class: `tk-task tk-task-${task.type}` },
    h('div', { class: 'tk-task-title' }, statusBadge(task), h('span', {}, taskTitle(task))),
    ...taskBody(task, ctx));
}

function workflowSummary(workflow, streaming) {
  const summary = workflow.summary;
  if (summary?.title) return summary.title;
  if (summary && typeof summary.duration === 'number') {
    return `Worked for ${summary.duration} second${summary.duration === 1 ? '' : 's'}`;
  }
  if (streaming) return 'Working\u2026';
  const n = workflow.tasks?.length || 0;
  return workflow.type === 'reasoning' ? 'Reasoning' : `${n} step${n === 1 ? '' : 's'}`;
}

class WorkflowView {
  constructor(item, ctx, streaming) {
    this.ctx = ctx;
    this.streaming = streaming;
    this.summary = h('summary', {});
    this.tasks = h('ol', { class: 'tk-tasks' });
    this.details = h('details', { class: 'tk-workflow' }, this.summary, this.tasks);
    this.el = shell(item, 'workflow-item', this.details);
    this.update(item);
  }

  update(item, done) {
    if (done) this.streaming = false;
    const first = !this.item;
    this.item = item;
    const workflow = item.workflow || { tasks: [] };
    if (first) this.details.open = !!workflow.expanded || this.streaming;
    this.summary.replaceChildren(workflowSummary(workflow, this.streaming));
    this.tasks.replaceChildren(...(workflow.tasks || []).map((task) => renderTask(task, this.ctx)));
  }

  applyUpdate(update) {
    const workflow = (this.item.workflow ||= { type: 'custom', tasks: [] });
    const tasks = (workflow.tasks ||= []);
    if (update.type === 'workflow.task.added') tasks.splice(update.task_index ?? tasks.length, 0, update.task);
    else if (update.type === 'workflow.task.updated') tasks[update.task_index] = update.task;
    else return;
    this.update(this.item);
  }

  finish() {
    if (this.streaming) {
      this.streaming = false;
      this.update(this.item);
    }
  }
}

class TaskView {
  constructor(item, ctx) {
    this.ctx = ctx;
    this.el = shell(item, 'task-item');
    this.update(item);
  }

  update(item) {
    this.item = item;
    const task = item.task || {};
    const body = taskBody(task, this.ctx);
    const title = h('span', { class: 'tk-task-title' }, statusBadge(task), h('span', {}, taskTitle(task)));
    this.el.replaceChildren(body.length
      ? h('details', { class: 'tk-task-details' }, h('summary', {}, title), ...body)
      : h('div', { class: 'tk-task-line' }, title));
  }

  applyUpdate() {}
  finish() {}
}

// --- generated images, client tool calls --------------------------------------------------

class ImageView {
  constructor(item, ctx) {
    this.ctx = ctx;
    this.progress = null;
    this.el = shell(item, 'image');
    this.update(item);
  }

  update(item, done) {
    this.item = item;
    if (done) this.progress = null;
    const url = item.image?.url;
    const parts = [];
    if (url && this.ctx.allowImage(url)) {
      parts.push(h('img', { src: url, alt: 'Generated image', referrerpolicy: 'no-referrer' }));
    } else if (url) {
      parts.push(h('p', { class: 'tk-muted' }, 'A generated image is not shown: its address is not allowed here.'));
    }
    if (this.progress !== null || !url) {
      const bar = h('progress', { 'aria-label': 'Generating image', max: '1' });
      if (this.progress !== null) bar.value = this.progress;
      parts.push(bar);
    }
    this.el.replaceChildren(h('figure', { class: 'tk-generated-image' }, parts));
  }

  applyUpdate(update) {
    if (update.type !== 'generated_image.updated') return;
    this.progress = typeof update.progress === 'number' ? update.progress : null;
    this.update({ ...this.item, image: update.image });
  }

  finish() {
    if (this.progress !== null) {
      this.progress = null;
      this.update(this.item);
    }
  }
}

class ToolCallView {
  constructor(item, ctx) {
    this.ctx = ctx;
    this.el = shell(item, 'tool-call');
    this.update(item);
  }

  update(item) {
    this.item = item;
    const done = item.status === 'completed';
    this.el.replaceChildren(h('p', { class: 'tk-muted tk-tool-line' },
      done ? icon('check') : h('span', { class: 'tk-spinner', 'aria-hidden': 'true' }),
      h('span', {}, done ? `Used ${item.name}` : `Using ${item.name}\u2026`)));
  }

  applyUpdate() {}
  finish() {}
}

// --- widgets ------------------------------------------------------------------------------

class WidgetView {
  constructor(item, ctx) {
    this.ctx = ctx;
    this.item = item;
    this.el = shell(item, 'widget-item');
    this.mounted = ctx.widgets.mount(this);
  }

  update(item) {
    this.item = item;
    this.mounted = this.mounted.then(() => this.ctx.widgets.rerender(this));
  }

  applyUpdate(update) {
    this.mounted = this.mounted.then(() => this.ctx.widgets.applyUpdate(this, update));
  }

  finish() {}
}

// --- structured input ---------------------------------------------------------------------

class StructuredInputView {
  constructor(item, ctx) {
    this.ctx = ctx;
    this.el = shell(item, 'structured-input');
    this.update(item);
  }

  update(item) {
    this.item = item;
    const inputs = item.inputs || [];
    if (item.status !== 'pending') {
      this.el.replaceChildren(h('dl', { class: 'tk-answers' }, inputs.flatMap((input) => [
        h('dt', {}, input.question),
        h('dd', {}, input.answer?.skipped || !input.answer ? 'Skipped' : input.answer.values.join(', ')),
      ])));
      return;
    }
    const fields = inputs.map((input, n) => {
      const name = `q${n}`;
      const legend = h('legend', {}, input.question);
      if (input.type === 'multiple_choice') {
        const kind = input.multiple ? 'checkbox' : 'radio';
        return h('fieldset', { class: 'tk-question', dataset: { inputId: input.id } }, legend,
          (input.options || []).map((option) => h('label', { class: 'tk-choice' },
            h('input', { type: kind, name, value: option.value }), ` ${option.value}`)),
          h('label', { class: 'tk-choice' }, 'Other: ', h('input', { type: 'text', class: 'tk-other', 'aria-label': `Other answer to: ${input.question}` })));
      }
      return h('fieldset', { class: 'tk-question', dataset: { inputId: input.id } }, legend,
        input.description ? h('p', { class: 'tk-muted' }, input.description) : '',
        h('textarea', { class: 'tk-other', rows: '2', 'aria-label': input.question }));
    });
    const submit = (status) => {
      const answers = {};
      for (const fieldset of this.el.querySelectorAll('fieldset')) {
        const values = [...fieldset.querySelectorAll('input:checked')].map((i) => i.value);
        const other = fieldset.querySelector('.tk-other')?.value.trim();
        if (other) values.push(other);
        answers[fieldset.dataset.inputId] = { values, skipped: values.length === 0 };
      }
      this.ctx.onStructuredInput(this, { status, answers: status === 'skipped' ? {} : answers });
    };
    const form = h('form', { class: 'tk-structured', onsubmit: (e) => { e.preventDefault(); submit('answered'); } },
      fields,
      h('div', { class: 'tk-row' },
        h('button', { type: 'submit', class: 'tk-button tk-primary' }, 'Submit'),
        h('button', { type: 'button', class: 'tk-button', onclick: () => submit('skipped') }, 'Skip')));
    this.el.replaceChildren(form);
  }

  applyUpdate() {}
  finish() {}
}

const VIEWS = {
  assistant_message: AssistantView,
  user_message: UserView,
  workflow: WorkflowView,
  task: TaskView,
  generated_image: ImageView,
  client_tool_call: ToolCallView,
  widget: WidgetView,
  structured_input: StructuredInputView,
};

/**
 * A view of `item`, or null for what is never shown (end of turn, hidden context,
 * item types this version does not know). `streaming`: the item arrived in a stream
 * and is not done yet.
 */
export function createView(item, ctx, streaming = false) {
  if (!item || HIDDEN.has(item.type)) return null;
  const View = VIEWS[item.type];
  return View ? new View(item, ctx, streaming) : null;
}
