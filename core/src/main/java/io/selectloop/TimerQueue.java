package io.selectloop;

import java.util.Arrays;

/**
 * A binary min-heap of timers that knows each timer's index, so a cancelled timer
 * leaves the heap in O(log n) instead of lingering until its deadline (idle
 * timeouts cancel far more timers than ever fire). Loop thread only.
 */
final class TimerQueue {
    private TimerHandle[] heap = new TimerHandle[64];
    private int size;

    int size() {
        return size;
    }

    TimerHandle peek() {
        return size == 0 ? null : heap[0];
    }

    void add(TimerHandle t) {
        if (size == heap.length) {
            heap = Arrays.copyOf(heap, size * 2);
        }
        siftUp(size++, t);
    }

    TimerHandle poll() {
        if (size == 0) {
            return null;
        }
        TimerHandle first = heap[0];
        removeAt(0);
        return first;
    }

    void remove(TimerHandle t) {
        int i = t.heapIndex;
        if (i >= 0 && i < size && heap[i] == t) {
            removeAt(i);
        }
    }

    /** Empties the heap and hands back what was in it, in no particular order. */
    TimerHandle[] drain() {
        TimerHandle[] all = Arrays.copyOf(heap, size);
        Arrays.fill(heap, 0, size, null);
        size = 0;
        for (TimerHandle t : all) {
            t.heapIndex = -1;
        }
        return all;
    }

    private void removeAt(int i) {
        TimerHandle removed = heap[i];
        removed.heapIndex = -1;
        TimerHandle last = heap[--size];
        heap[size] = null;
        if (i == size) {
            return;
        }
        siftDown(i, last);
        if (heap[i] == last) {
            siftUp(i, last);
        }
    }

    private void siftUp(int i, TimerHandle t) {
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            TimerHandle p = heap[parent];
            if (!t.lessThan(p)) {
                break;
            }
            heap[i] = p;
            p.heapIndex = i;
            i = parent;
        }
        heap[i] = t;
        t.heapIndex = i;
    }

    private void siftDown(int i, TimerHandle t) {
        int half = size >>> 1;
        while (i < half) {
            int child = 2 * i + 1;
            TimerHandle c = heap[child];
            int right = child + 1;
            if (right < size && heap[right].lessThan(c)) {
                child = right;
                c = heap[child];
            }
            if (!c.lessThan(t)) {
                break;
            }
            heap[i] = c;
            c.heapIndex = i;
            i = child;
        }
        heap[i] = t;
        t.heapIndex = i;
    }
}
