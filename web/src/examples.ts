// The playground's Examples menu, as on go.dev/play: each example is a
// file of src/examples, bundled as text (playground/examples_test.go runs
// every one of them).
import hello from './examples/hello.go.txt';
import test from './examples/test.go.txt';
import goroutines from './examples/goroutines.go.txt';
import http from './examples/http.go.txt';
import generics from './examples/generics.go.txt';
import modules from './examples/module.go.txt';

/** An example: its title in the menu and its program. */
export interface Example { title: string; body: string }

export const examples: Example[] = [
  { title: 'Hello, World!', body: hello },
  { title: 'Tests', body: test },
  { title: 'Goroutines and channels', body: goroutines },
  { title: 'Web server and its test', body: http },
  { title: 'Generics', body: generics },
  { title: 'A third-party module', body: modules },
];
